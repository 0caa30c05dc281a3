/* test_reconcile_text.c — the exception sentences of SPEC §4.7, word for word. */
#include "check.h"
#include "reconcile_text.h"
#include "timeutil.h"

static int32_t day_of(const char *text)
{
	int64_t us;
	if (time_parse(text, strlen(text), &us) != 0)
		return 0;
	return time_day_of(us);
}

TEST(amounts_grouped)
{
	char b[RTEXT_AMOUNT_MAX];
	static const struct {
		int64_t micros;
		int minor;
		const char *want;
	} cases[] = {
		{ 0, 2, "0.00" },
		{ 1100000000, 2, "1,100.00" },
		{ -38500000, 2, "-38.50" },
		{ 44018100000, 2, "44,018.10" },
		{ -203787037, 2, "-203.787037" },
		{ -1, 2, "-0.000001" },
		{ 1200000000, 0, "1,200" },
		{ 123456789012345678, 2, "123,456,789,012.345678" },
		{ 1234567000, 3, "1,234.567" },
		{ 100000000, 2, "100.00" },
		{ -999999000000, 0, "-999,999" },
		{ INT64_MIN, 2, "-9,223,372,036,854.775808" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_STR(rtext_amount(cases[i].micros, cases[i].minor, b), cases[i].want);
}

TEST(rates)
{
	char b[RTEXT_AMOUNT_MAX];
	CHECK_STR(rtext_rate(35000, b), "3.5 %");
	CHECK_STR(rtext_rate(80000, b), "8 %");
	CHECK_STR(rtext_rate(5000, b), "0.5 %");
	CHECK_STR(rtext_rate(1, b), "0.0001 %");
	CHECK_STR(rtext_rate(1000000, b), "100 %");
	CHECK_STR(rtext_rate(0, b), "0 %");
}

/* The issue's own example. */
TEST(fee_variance)
{
	char b[RTEXT_MAX];
	CHECK_STR(rtext_fee_variance(b, sizeof b, 2, -40000000, -38500000, 35000, 1100000000),
		  "listing fee -40.00 differs from the expected -38.50 (3.5 % of 1,100.00) by 1.50");
	CHECK_STR(rtext_fee_variance(b, sizeof b, 0, -40000000, -38000000, 35000, 1100000000),
		  "listing fee -40 differs from the expected -38 (3.5 % of 1,100) by 2");
}

static const struct rtext_group group = {
	.recipient_account_id = "111122223333",
	.reference = "tr-1",
	.currency = "USD",
	.minor_units = 2,
	.agreement_id = "agmt-1",
	.offer_id = NULL,
	.product_id = "prod-a",
	.buyer_account_id = "900000000001",
	.net_micros = 43799020000,
};

TEST(group_sentences)
{
	char b[RTEXT_MAX];
	struct rtext_group g = group;
	g.date_day = day_of("2026-10-05");
	CHECK_STR(rtext_no_offer(b, sizeof b, &g),
		  "charge tr-1 of 111122223333 (net 43,799.02 USD, 2026-10-05) matches no offer: agreement agmt-1, "
		  "offer (none), product prod-a with buyer 900000000001 in USD found none; it is not allocated");
	CHECK_STR(rtext_ambiguous_offer(b, sizeof b, &g, "M1", 2),
		  "charge tr-1 of 111122223333 (net 43,799.02 USD, 2026-10-05) matches 2 offers by agreement (rule M1); "
		  "it is not allocated until one offer remains");
	CHECK_STR(rtext_currency_mismatch(b, sizeof b, &g, "M2", "offer-9", "EUR"),
		  "charge tr-1 of 111122223333 (net 43,799.02 USD, 2026-10-05) is in USD but its offer offer-9 "
		  "(matched by offer id, rule M2) is in EUR; it is not allocated");
	CHECK_STR(rtext_offer_expired(b, sizeof b, &g, "M1", "offer-1", "2026-01-01", "2026-09-30"),
		  "charge tr-1 of 111122223333 (net 43,799.02 USD, 2026-10-05) lies outside the validity of its offer "
		  "offer-1 (2026-01-01 to 2026-09-30, matched by agreement, rule M1); it is allocated all the same");
	CHECK_STR(rtext_offer_expired(b, sizeof b, &g, "M2", "offer-1", "2026-11-01", NULL),
		  "charge tr-1 of 111122223333 (net 43,799.02 USD, 2026-10-05) lies outside the validity of its offer "
		  "offer-1 (2026-11-01 to open, matched by offer id, rule M2); it is allocated all the same");
	CHECK_STR(rtext_split_variance(b, sizeof b, 2, 40000000000, -40757500000, "444455556666"),
		  "the ISV 444455556666's share of revenue 40,000.00 differs from the 40,757.50 of cost of goods paid "
		  "to it by 757.50");
	CHECK_STR(rtext_balance_adjustment(b, sizeof b, &g, -12000000, 1),
		  "balance adjustment of -12.00 USD on tr-1 of 111122223333 (1 row, 2026-10-05) is not allocated; check "
		  "it against the marketplace's statement");
}

TEST(payout_sentences)
{
	char b[RTEXT_MAX];
	int32_t d = day_of("2026-10-22");
	CHECK_STR(rtext_payout_mismatch(b, sizeof b, "p1", "USD", 2, 3041520000, -3041510000, 4),
		  "payout p1 of 3,041.52 USD differs from the 3,041.51 its 4 lines settle by 0.01");
	CHECK_STR(rtext_payout_mismatch(b, sizeof b, "p1", "USD", 2, 5000000, 0, 0),
		  "payout p1 of 5.00 USD differs from the 0.00 its 0 lines settle by 5.00");
	/* SPEC §4.5: a payout that adds up, with lines that settle no known charge */
	CHECK_STR(rtext_payout_unjoined(b, sizeof b, "PZ", "USD", 2, 77000000, -77000000, 1, 1),
		  "payout PZ of 77.00 USD: 1 of its 1 line (-77.00) settles no known charge: no transaction_reference_id,"
		  " and no parent event that has one");
	CHECK_STR(rtext_payout_unjoined(b, sizeof b, "P9", "USD", 2, 150000000, -50000000, 2, 3),
		  "payout P9 of 150.00 USD: 2 of its 3 lines (-50.00) settle no known charge: no transaction_reference_id,"
		  " and no parent event that has one");
	/* SPEC §4.5 in the paid currency: differs, a line without its paid amount, no paid amount */
	CHECK_STR(rtext_payout_paid_mismatch(b, sizeof b, "P2", "EUR", 2, 1, 460000000, -463000000, 1, 0),
		  "payout P2 of 460.00 EUR (paid currency) differs from the 463.00 its 1 line settle in EUR by 3.00");
	CHECK_STR(rtext_payout_paid_mismatch(b, sizeof b, "P3", "EUR", 2, 1, 185000000, 0, 2, 1),
		  "payout P3 of 185.00 EUR (paid currency) cannot be checked there: 1 of its 2 lines carry no"
		  " disbursement_amount in EUR");
	CHECK_STR(rtext_payout_paid_mismatch(b, sizeof b, "P4", "JPY", 0, 0, 0, -1000000, 1, 0),
		  "payout P4 is paid in JPY but carries no disbursement_amount to check against its 1 line");
	CHECK_STR(rtext_disbursement_failed(b, sizeof b, "p1", "USD", 2, 3041520000, d, "f1", "PARENT", 4, 0),
		  "payout p1 of 3,041.52 USD on 2026-10-22 failed (f1, which names it as parent); its 4 lines count as"
		  " not disbursed");
	CHECK_STR(rtext_disbursement_failed(b, sizeof b, "p1", "USD", 2, 3041520000, d, "f1", "AMOUNT", 1, 1),
		  "payout p1 of 3,041.52 USD on 2026-10-22 failed (f1, by its amount); its 1 line counts, and so does the"
		  " failure's reversal line that gives it back");
	CHECK_STR(rtext_disbursement_failed(b, sizeof b, "p1", "USD", 2, 3041520000, d, "f1", "TRACE_ID", 2, 1),
		  "payout p1 of 3,041.52 USD on 2026-10-22 failed (f1, by its bank trace id); its 2 lines count, and so do"
		  " the failure's reversal lines that give them back");
	CHECK_STR(rtext_failure_unlinked(b, sizeof b, "f9", "USD", 2, -247500000, d, "", 2),
		  "payout failure f9 of -247.50 USD on 2026-10-22 undoes no payout: no payout has its bank trace id or"
		  " an amount it cancels on or before it; its 2 reversal lines count as they stand");
	CHECK_STR(rtext_failure_unlinked(b, sizeof b, "f9", "USD", 2, -247500000, d, "", 0),
		  "payout failure f9 of -247.50 USD on 2026-10-22 undoes no payout: no payout has its bank trace id or"
		  " an amount it cancels on or before it; it has no reversal lines");
	CHECK_STR(rtext_failure_unlinked(b, sizeof b, "f9", "USD", 2, -247500000, d, "p0", 1),
		  "payout failure f9 of -247.50 USD on 2026-10-22 undoes no payout: its parent p0 is no payout of this"
		  " recipient and currency, no payout has its bank trace id or an amount it cancels on or before it;"
		  " its 1 reversal line counts as it stands");
	CHECK_STR(rtext_deposit_missing(b, sizeof b, "p1", "USD", 2, 3041520000, d, 15, "TRC-778", 0),
		  "payout p1 of 3,041.52 USD on 2026-10-22 (bank trace id TRC-778) has no bank deposit 15 days later");
	CHECK_STR(rtext_deposit_missing(b, sizeof b, "p1", "USD", 2, 3041520000, d, 15, "", 2),
		  "payout p1 of 3,041.52 USD on 2026-10-22 (bank trace id (none)) has no bank deposit 15 days later; "
		  "2 deposits of that amount could match, so none was chosen");
	CHECK_STR(rtext_deposit_unmatched(b, sizeof b, "d9", "111122223333", "KWD", 3, 12345000, d, NULL),
		  "deposit d9 of 12.345 KWD on 2026-10-22 into the account of 111122223333 (bank trace id (none)) "
		  "matches no payout");
	CHECK_STR(rtext_deposit_amount_mismatch(b, sizeof b, "d1", "USD", 3031520000, "p1", "USD", 3041520000, 2, "TRC-778"),
		  "deposit d1 of 3,031.52 USD (bank trace id TRC-778) differs from payout p1 of 3,041.52 by 10.00");
	CHECK_STR(rtext_deposit_amount_mismatch(b, sizeof b, "d1", "EUR", 3041520000, "p1", "USD", 3041520000, 2, "T"),
		  "deposit d1 of 3,041.52 EUR (bank trace id T) is in another currency than payout p1 of 3,041.52 USD");
}

TEST(usage_sentences)
{
	char b[RTEXT_MAX];
	CHECK_STR(rtext_metering_variance(b, sizeof b, "u-1", "2026-10", "USD", 2, 1234560000, 1200000000),
		  "usage of offer u-1 in 2026-10 was billed 1,200.00 USD but its metering comes to 1,234.56, a "
		  "difference of 34.56");
	CHECK_STR(rtext_unbilled_usage(b, sizeof b, "u-1", "2026-10", "JPY", 0, 1234000000, 5),
		  "usage of offer u-1 in 2026-10 metered at 1,234 JPY is not billed more than 5 days after the end of "
		  "the month");
	CHECK_STR(rtext_usage_without_offer(b, sizeof b, "9000", "pc-1", "users", "2026-10", 345, 12, 0),
		  "12 metering records of customer 9000 for product code pc-1, dimension users in 2026-10 (quantity "
		  "345) belong to no usage offer");
	CHECK_STR(rtext_usage_without_offer(b, sizeof b, "9000", "pc-1", "users", "2026-10", 1, 1, 2),
		  "1 metering record of customer 9000 for product code pc-1, dimension users in 2026-10 (quantity 1) "
		  "could belong to several usage offers, so none is chosen");
	CHECK_STR(rtext_unknown_dimension(b, sizeof b, "u-1", "gpu-hours", "2026-10", 345, 3),
		  "offer u-1 has no price for dimension gpu-hours, metered 345 units in 2026-10 (3 records)");
}

TEST(never_overruns)
{
	char small[24];
	CHECK_STR(rtext_payout_mismatch(small, sizeof small, "p1", "USD", 2, 3041520000, -3041510000, 4),
		  "payout p1 of 3,041.52 U");
}

int main(void)
{
	RUN(amounts_grouped);
	RUN(rates);
	RUN(fee_variance);
	RUN(group_sentences);
	RUN(payout_sentences);
	RUN(usage_sentences);
	RUN(never_overruns);
	return CHECK_EXIT;
}
