/* test_alloc.c — SPEC §4.3 allocation per split basis and its checks, §4.4 payable rounding. */
#include <stdlib.h>

#include "alloc.h"
#include "check.h"

static struct match_offer offer(enum match_basis basis, const char *reseller, int64_t markup, int64_t share)
{
	struct match_offer o = { .offer_id = "o-1", .isv_account_id = "isv", .reseller_account_id = reseller,
				 .currency = "USD", .basis = basis };
	if (markup >= 0) {
		o.has_markup_rate = 1;
		o.markup_rate_micros = markup;
	}
	if (share >= 0) {
		o.has_isv_share_rate = 1;
		o.isv_share_rate_micros = share;
	}
	return o;
}

TEST(split_per_basis)
{
	struct alloc_split s;
	struct err e;
	struct match_offer o = offer(MATCH_BASIS_DIRECT, "", -1, -1);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	CHECK_I64(s.n, 1);
	CHECK_I64(s.weights[0], 1);
	CHECK_I64(s.roles[0], ALLOC_ROLE_ISV);
	CHECK_STR(s.accounts[0], "isv");

	o = offer(MATCH_BASIS_MARKUP, "res", 80000, -1); /* 8 % */
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	CHECK_I64(s.n, 2);
	CHECK_I64(s.weights[0], 1000000);
	CHECK_I64(s.weights[1], 80000);
	CHECK_I64(s.roles[1], ALLOC_ROLE_RESELLER);
	CHECK_STR(s.accounts[1], "res");

	o = offer(MATCH_BASIS_SHARE, "res", -1, 250000); /* ISV 25 % */
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	CHECK_I64(s.weights[0], 250000);
	CHECK_I64(s.weights[1], 750000);

	o = offer(MATCH_BASIS_SHARE, "res", -1, 1000000); /* ISV 100 %: the reseller's weight is 0 */
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	CHECK_I64(s.weights[1], 0);
}

TEST(split_refuses_incomplete_terms)
{
	struct alloc_split s;
	struct err e = { 0 };
	struct match_offer o = offer(MATCH_BASIS_MARKUP, "", 80000, -1);
	CHECK(alloc_split_of(&o, &s, &e) == -1);
	CHECK(strstr(e.msg, "o-1") != NULL);
	o = offer(MATCH_BASIS_MARKUP, "res", -1, -1);
	CHECK(alloc_split_of(&o, &s, &e) == -1);
	o = offer(MATCH_BASIS_SHARE, "res", -1, -1);
	CHECK(alloc_split_of(&o, &s, &e) == -1);
	o = offer(MATCH_BASIS_SHARE, "res", -1, 1000001);
	CHECK(alloc_split_of(&o, &s, &e) == -1);
	o = offer(MATCH_BASIS_SHARE, NULL, -1, 500000);
	CHECK(alloc_split_of(&o, &s, &e) == -1);
}

/* SPEC §9, to the micro. */
TEST(spec_worked_example)
{
	struct alloc_split s;
	struct err e;
	struct match_offer o = offer(MATCH_BASIS_MARKUP, "111122223333", 80000, -1);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	struct alloc_totals t = { 44018100000, -220090000, 1010000 };
	struct alloc_part p[2];
	REQUIRE(alloc_group(&s, &t, p, &e) == 0);
	CHECK_I64(p[0].revenue_micros, 40757500000);
	CHECK_I64(p[0].listing_fee_micros, -203787037);
	CHECK_I64(p[0].seller_tax_micros, 935185);
	CHECK_I64(p[0].net_micros, 40554648148);
	CHECK_I64(p[1].revenue_micros, 3260600000);
	CHECK_I64(p[1].listing_fee_micros, -16302963); /* the odd micro of the fee goes to the reseller */
	CHECK_I64(p[1].seller_tax_micros, 74815);
	CHECK_I64(p[1].net_micros, 3244371852);

	int64_t fee;
	CHECK_I64(alloc_expected_fee(44018100000, 5000, MONEY_HALF_UP, &fee), MONEY_OK);
	CHECK_I64(fee, -220090500); /* -220.0905 */
	CHECK(!alloc_differs(-220090000, fee, 10000)); /* within one cent: no FEE_VARIANCE */
	CHECK(!alloc_differs(40757500000, p[0].revenue_micros, 10000)); /* -C = ISV revenue: no SPLIT_VARIANCE */

	int64_t payable, rounding;
	CHECK_I64(alloc_payable(p[1].net_micros, 2, MONEY_HALF_UP, &payable, &rounding), MONEY_OK);
	CHECK_I64(payable, 3244370000);
	CHECK_I64(rounding, -1852);
	CHECK_I64(alloc_payable(p[0].net_micros, 2, MONEY_HALF_UP, &payable, &rounding), MONEY_OK);
	CHECK_I64(payable, 40554650000);
	CHECK_I64(rounding, 1852);
}

/* A refund or a FORGIVEN reversal carries the charge's amounts with the other sign: its parts are
 * exactly the charge's, negated (SPEC §2 alloc(−T) = −alloc(T)). */
TEST(reversal_mirrors_to_the_micro)
{
	struct alloc_split s;
	struct err e;
	struct match_offer o = offer(MATCH_BASIS_SHARE, "res", -1, 333333);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	struct alloc_totals t = { 1000000001, -35000003, 77777 }, neg = { -1000000001, 35000003, -77777 };
	struct alloc_part a[2], b[2];
	REQUIRE(alloc_group(&s, &t, a, &e) == 0);
	REQUIRE(alloc_group(&s, &neg, b, &e) == 0);
	for (int i = 0; i < 2; i++) {
		CHECK_I64(b[i].revenue_micros, -a[i].revenue_micros);
		CHECK_I64(b[i].listing_fee_micros, -a[i].listing_fee_micros);
		CHECK_I64(b[i].seller_tax_micros, -a[i].seller_tax_micros);
		CHECK_I64(b[i].net_micros, -a[i].net_micros);
	}
}

TEST(share_and_direct_examples)
{
	struct alloc_split s;
	struct err e;
	struct alloc_part p[2];
	/* SHARE 25/75 of 100.01: 25.0025 / 75.0075, exact */
	struct match_offer o = offer(MATCH_BASIS_SHARE, "res", -1, 250000);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	struct alloc_totals t = { 100010000, -3500350, 0 };
	REQUIRE(alloc_group(&s, &t, p, &e) == 0);
	CHECK_I64(p[0].revenue_micros, 25002500);
	CHECK_I64(p[1].revenue_micros, 75007500);
	CHECK_I64(p[0].listing_fee_micros + p[1].listing_fee_micros, -3500350);
	/* DIRECT: everything to the ISV */
	o = offer(MATCH_BASIS_DIRECT, "", -1, -1);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	REQUIRE(alloc_group(&s, &t, p, &e) == 0);
	CHECK_I64(p[0].revenue_micros, 100010000);
	CHECK_I64(p[0].net_micros, 100010000 - 3500350);
}

/* Payable rounding in 0, 2 and 3 decimals, both modes, both signs. */
TEST(payable_per_currency)
{
	static const struct {
		int64_t net;
		int minor;
		enum money_rounding mode;
		int64_t payable;
	} cases[] = {
		{ 1500000, 0, MONEY_HALF_UP, 2000000 },      /* JPY 1.5 -> 2 */
		{ 2500000, 0, MONEY_HALF_EVEN, 2000000 },    /* JPY 2.5 -> 2 */
		{ -1500000, 0, MONEY_HALF_UP, -2000000 },    /* symmetric */
		{ 1234499999, 0, MONEY_HALF_UP, 1234000000 },
		{ 1000500, 3, MONEY_HALF_UP, 1001000 },      /* KWD 1.0005 -> 1.001 */
		{ 1000500, 3, MONEY_HALF_EVEN, 1000000 },    /* KWD 1.0005 -> 1.000 */
		{ -1000499, 3, MONEY_HALF_UP, -1000000 },
		{ 3244371852, 2, MONEY_HALF_EVEN, 3244370000 },
		{ 5000, 2, MONEY_HALF_UP, 10000 },
		{ 5000, 2, MONEY_HALF_EVEN, 0 },
		{ 0, 2, MONEY_HALF_UP, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t payable, rounding;
		CHECK_I64(alloc_payable(cases[i].net, cases[i].minor, cases[i].mode, &payable, &rounding), MONEY_OK);
		CHECK_I64(payable, cases[i].payable);
		CHECK_I64(rounding, cases[i].payable - cases[i].net);
	}
	int64_t payable, rounding;
	CHECK_I64(alloc_payable(INT64_MAX, 2, MONEY_HALF_UP, &payable, &rounding), MONEY_OVERFLOW);
}

/* The expected fee is rounded to micros in the configured mode (a tie needs an odd product). */
TEST(expected_fee_rounding)
{
	int64_t fee;
	CHECK_I64(alloc_expected_fee(100, 5000, MONEY_HALF_UP, &fee), MONEY_OK); /* 0.5 micro */
	CHECK_I64(fee, -1);
	CHECK_I64(alloc_expected_fee(100, 5000, MONEY_HALF_EVEN, &fee), MONEY_OK);
	CHECK_I64(fee, 0);
	CHECK_I64(alloc_expected_fee(-100, 5000, MONEY_HALF_UP, &fee), MONEY_OK); /* refund: +1 */
	CHECK_I64(fee, 1);
	CHECK_I64(alloc_expected_fee(1100000000, 35000, MONEY_HALF_UP, &fee), MONEY_OK); /* 3.5 % of 1100 */
	CHECK_I64(fee, -38500000);
	CHECK_I64(alloc_expected_fee(0, 35000, MONEY_HALF_UP, &fee), MONEY_OK);
	CHECK_I64(fee, 0);
}

TEST(differs_at_the_tolerance)
{
	CHECK(!alloc_differs(100, 100, 0));
	CHECK(alloc_differs(100, 101, 0));
	CHECK(!alloc_differs(-38500000, -38490000, 10000)); /* exactly tol: equal enough */
	CHECK(alloc_differs(-38500000, -38489999, 10000));
	CHECK(alloc_differs(INT64_MAX, INT64_MIN, 10000)); /* no overflow */
	CHECK(!alloc_differs(INT64_MIN, INT64_MIN, 0));
}

/* Property: over random groups and weights, every component sums to its total and reversal
 * mirrors; the allocation never moves more than one micro from the exact share. */
TEST(property_random_groups)
{
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		struct match_offer o = offer((enum match_basis)(x % 3), "res", (int64_t)(x >> 8) % 2000001,
					     (int64_t)(x >> 12) % 1000001);
		struct alloc_split s;
		struct err e;
		REQUIRE(alloc_split_of(&o, &s, &e) == 0);
		int64_t base = (int64_t)(x >> 20) % INT64_C(1000000000000000);
		struct alloc_totals t = { base - 500000000000000, -((base / 7) % 1000000000), (base / 13) % 100000000 };
		struct alloc_totals n = { -t.revenue_micros, -t.listing_fee_micros, -t.seller_tax_micros };
		struct alloc_part a[2], b[2];
		REQUIRE(alloc_group(&s, &t, a, &e) == 0);
		REQUIRE(alloc_group(&s, &n, b, &e) == 0);
		int64_t r = 0, f = 0, tx = 0;
		for (size_t p = 0; p < s.n; p++) {
			r += a[p].revenue_micros;
			f += a[p].listing_fee_micros;
			tx += a[p].seller_tax_micros;
			if (b[p].net_micros != -a[p].net_micros || a[p].net_micros != a[p].revenue_micros + a[p].listing_fee_micros + a[p].seller_tax_micros) {
				check_failed_++;
				return;
			}
		}
		if (r != t.revenue_micros || f != t.listing_fee_micros || tx != t.seller_tax_micros) {
			check_failed_++;
			return;
		}
	}
}

TEST(role_names)
{
	CHECK_STR(alloc_role_name(ALLOC_ROLE_ISV), "ISV");
	CHECK_STR(alloc_role_name(ALLOC_ROLE_RESELLER), "RESELLER");
}

int main(void)
{
	RUN(split_per_basis);
	RUN(split_refuses_incomplete_terms);
	RUN(spec_worked_example);
	RUN(reversal_mirrors_to_the_micro);
	RUN(share_and_direct_examples);
	RUN(payable_per_currency);
	RUN(expected_fee_rounding);
	RUN(differs_at_the_tolerance);
	RUN(property_random_groups);
	RUN(role_names);
	return CHECK_EXIT;
}
