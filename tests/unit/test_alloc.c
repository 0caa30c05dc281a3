/* test_alloc.c — SPEC §4.3 allocation per split basis and recipient view, its checks, §4.4 payable
 * rounding. */
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
	o.has_markup_rate = 1;
	o.markup_rate_micros = -80000; /* a negative markup */
	CHECK(alloc_split_of(&o, &s, &e) == -1);
	o = offer(MATCH_BASIS_SHARE, "res", -1, -1);
	CHECK(alloc_split_of(&o, &s, &e) == -1);
	o = offer(MATCH_BASIS_SHARE, "res", -1, 1000001);
	CHECK(alloc_split_of(&o, &s, &e) == -1);
	o = offer(MATCH_BASIS_SHARE, NULL, -1, 500000);
	CHECK(alloc_split_of(&o, &s, &e) == -1);
}

/* A MARKUP offer without a markup (SPEC §3.2: a derived CPPO) is split with unknown weights. */
TEST(split_unknown_markup)
{
	struct alloc_split s;
	struct err e;
	struct match_offer o = offer(MATCH_BASIS_MARKUP, "res", -1, -1);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	CHECK_I64(s.n, 2);
	CHECK(!s.weights_known);
	int64_t isv;
	CHECK(!alloc_isv_by_weights(&s, 100000000, &isv)); /* no SPLIT_VARIANCE without a markup */
}

TEST(views)
{
	struct match_offer cppo = offer(MATCH_BASIS_MARKUP, "res", 80000, -1);
	struct match_offer direct = offer(MATCH_BASIS_DIRECT, "", -1, -1);
	struct match_offer share = offer(MATCH_BASIS_SHARE, "res", -1, 250000);
	CHECK_I64(alloc_view_of(&cppo, "res"), ALLOC_VIEW_SELLER_OF_RECORD);
	CHECK_I64(alloc_view_of(&cppo, "isv"), ALLOC_VIEW_ISV_OWN_FEED);
	CHECK_I64(alloc_view_of(&cppo, "other"), ALLOC_VIEW_NOT_PARTY);
	CHECK_I64(alloc_view_of(&cppo, ""), ALLOC_VIEW_NOT_PARTY);
	CHECK_I64(alloc_view_of(&cppo, "RES"), ALLOC_VIEW_NOT_PARTY); /* exact, case-sensitive */
	CHECK_I64(alloc_view_of(&direct, "isv"), ALLOC_VIEW_SELLER_OF_RECORD);
	CHECK_I64(alloc_view_of(&direct, "res"), ALLOC_VIEW_NOT_PARTY);
	CHECK_I64(alloc_view_of(&share, "isv"), ALLOC_VIEW_ISV_OWN_FEED);
	CHECK_I64(alloc_view_of(&share, "res"), ALLOC_VIEW_SELLER_OF_RECORD);
}

/* Σ parts = B + F + T, component by component, and net = revenue + fee + tax per part. */
static int balanced(const struct alloc_result *r, const struct alloc_totals *t)
{
	int64_t rev = 0, fee = 0, tax = 0;
	for (size_t p = 0; p < r->n; p++) {
		if (r->parts[p].net_micros !=
		    r->parts[p].revenue_micros + r->parts[p].listing_fee_micros + r->parts[p].seller_tax_micros)
			return 0;
		rev += r->parts[p].revenue_micros;
		fee += r->parts[p].listing_fee_micros;
		tax += r->parts[p].seller_tax_micros;
	}
	return rev == t->revenue_micros && fee == t->listing_fee_micros && tax == t->seller_tax_micros;
}

/* SPEC §9 (version 2), to the micro: the ISV gets its wholesale −C and no fee or tax; the reseller
 * keeps the rest, its own listing fee and seller tax, and its net is the payout p1. */
TEST(spec_worked_example)
{
	struct alloc_split s;
	struct alloc_result r;
	struct err e;
	struct match_offer o = offer(MATCH_BASIS_MARKUP, "111122223333", 80000, -1);
	o.isv_account_id = "444455556666";
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	struct alloc_totals t = { 44018100000, -220090000, 1010000, -40757500000 };
	REQUIRE(alloc_view_of(&o, "111122223333") == ALLOC_VIEW_SELLER_OF_RECORD);
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &t, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.n, 2);
	CHECK_STR(r.accounts[0], "444455556666");
	CHECK_I64(r.roles[0], ALLOC_ROLE_ISV);
	CHECK_I64(r.parts[0].revenue_micros, 40757500000);
	CHECK_I64(r.parts[0].listing_fee_micros, 0);
	CHECK_I64(r.parts[0].seller_tax_micros, 0);
	CHECK_I64(r.parts[0].net_micros, 40757500000);
	CHECK_STR(r.accounts[1], "111122223333");
	CHECK_I64(r.parts[1].revenue_micros, 3260600000);
	CHECK_I64(r.parts[1].listing_fee_micros, -220090000);
	CHECK_I64(r.parts[1].seller_tax_micros, 1010000);
	CHECK_I64(r.parts[1].net_micros, 3041520000); /* = payout p1 */
	CHECK(balanced(&r, &t));

	int64_t fee;
	CHECK_I64(alloc_expected_fee(44018100000, 5000, MONEY_HALF_UP, &fee), MONEY_OK);
	CHECK_I64(fee, -220090500); /* -220.0905 */
	CHECK(!alloc_differs(-220090000, fee, 10000)); /* within one cent: no FEE_VARIANCE */
	int64_t isv;
	REQUIRE(alloc_isv_by_weights(&s, t.revenue_micros, &isv));
	CHECK_I64(isv, 40757500000);
	CHECK(!alloc_differs(40757500000, isv, 10000)); /* −C = alloc(B, w)[ISV]: no SPLIT_VARIANCE */

	int64_t payable, rounding;
	CHECK_I64(alloc_payable(r.parts[1].net_micros, 2, MONEY_HALF_UP, &payable, &rounding), MONEY_OK);
	CHECK_I64(payable, 3041520000);
	CHECK_I64(rounding, 0);

	/* The variant: the ISV's own feed of the sale (wholesale and its own fee) to the ISV alone. */
	struct alloc_totals own = { 40757500000, -1222730000, 0, 0 };
	REQUIRE(alloc_view_of(&o, "444455556666") == ALLOC_VIEW_ISV_OWN_FEED);
	REQUIRE(alloc_group(&s, ALLOC_VIEW_ISV_OWN_FEED, &own, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.n, 1);
	CHECK_STR(r.accounts[0], "444455556666");
	CHECK_I64(r.parts[0].revenue_micros, 40757500000);
	CHECK_I64(r.parts[0].listing_fee_micros, -1222730000);
	CHECK_I64(r.parts[0].net_micros, 39534770000);
	CHECK(balanced(&r, &own));
}

/* MARKUP from the seller of record's feed: W = −C when the group has cost of goods, whatever the
 * markup says (the feed is the truth; SPLIT_VARIANCE reports the difference); else alloc(B, w)[ISV];
 * unknown markup and no C: OFFER_INCOMPLETE, nothing allocated. */
TEST(markup_cases)
{
	struct alloc_split s;
	struct alloc_result r;
	struct err e;
	struct match_offer o = offer(MATCH_BASIS_MARKUP, "res", 80000, -1);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	/* with C that disagrees with the markup: W = −C = 900.00 (weights say 1000.00) */
	struct alloc_totals t = { 1080000000, -5400000, 3000000, -900000000 };
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &t, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.parts[0].revenue_micros, 900000000);
	CHECK_I64(r.parts[1].revenue_micros, 180000000);
	CHECK_I64(r.parts[1].listing_fee_micros, -5400000);
	CHECK_I64(r.parts[1].seller_tax_micros, 3000000);
	CHECK(balanced(&r, &t));
	/* without C: W = alloc(B, [1, 0.08])[ISV] = 1000.00 */
	t.cogs_micros = 0;
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &t, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.parts[0].revenue_micros, 1000000000);
	CHECK_I64(r.parts[0].listing_fee_micros, 0);
	CHECK_I64(r.parts[1].revenue_micros, 80000000);
	CHECK(balanced(&r, &t));
	/* odd micros without C: the ISV's share rounds by SPEC §2, the reseller takes the rest */
	struct alloc_totals odd = { 1000001, -1, 1, 0 };
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &odd, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.parts[0].revenue_micros, 925927);
	CHECK_I64(r.parts[1].revenue_micros, 74074);
	CHECK(balanced(&r, &odd));
	/* a refund mirrors: W = −C again */
	struct alloc_totals refund = { -1080000000, 5400000, -3000000, 900000000 };
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &refund, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.parts[0].revenue_micros, -900000000);
	CHECK_I64(r.parts[1].revenue_micros, -180000000);
	CHECK(balanced(&r, &refund));
	/* unknown markup: C decides; without C nothing is allocated */
	o = offer(MATCH_BASIS_MARKUP, "res", -1, -1);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	t.cogs_micros = -900000000;
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &t, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.parts[0].revenue_micros, 900000000);
	CHECK(balanced(&r, &t));
	t.cogs_micros = 0;
	CHECK_I64(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &t, &r, &e), ALLOC_INCOMPLETE);
	CHECK_I64(r.n, 0);
	/* the ISV's own feed of an unknown-markup CPPO needs no markup */
	REQUIRE(alloc_group(&s, ALLOC_VIEW_ISV_OWN_FEED, &t, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.n, 1);
	CHECK(balanced(&r, &t));
}

/* The ISV's own feed: B, F, T to the ISV alone, whatever the basis. */
TEST(isv_own_feed)
{
	struct alloc_split s;
	struct alloc_result r;
	struct err e;
	struct alloc_totals t = { 1000000000, -30000000, 2000000, 0 };
	static const enum match_basis bases[] = { MATCH_BASIS_MARKUP, MATCH_BASIS_SHARE };
	for (size_t i = 0; i < 2; i++) {
		struct match_offer o = offer(bases[i], "res", 80000, 250000);
		REQUIRE(alloc_split_of(&o, &s, &e) == 0);
		REQUIRE(alloc_group(&s, ALLOC_VIEW_ISV_OWN_FEED, &t, &r, &e) == ALLOC_DONE);
		CHECK_I64(r.n, 1);
		CHECK_I64(r.roles[0], ALLOC_ROLE_ISV);
		CHECK_STR(r.accounts[0], "isv");
		CHECK_I64(r.parts[0].revenue_micros, 1000000000);
		CHECK_I64(r.parts[0].listing_fee_micros, -30000000);
		CHECK_I64(r.parts[0].seller_tax_micros, 2000000);
		CHECK_I64(r.parts[0].net_micros, 972000000);
	}
}

/* A refund or a FORGIVEN reversal carries the charge's amounts with the other sign: its parts are
 * exactly the charge's, negated (SPEC §2 alloc(−T) = −alloc(T)). */
TEST(reversal_mirrors_to_the_micro)
{
	struct alloc_split s;
	struct err e;
	struct match_offer o = offer(MATCH_BASIS_SHARE, "res", -1, 333333);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	struct alloc_totals t = { 1000000001, -35000003, 77777, 0 }, neg = { -1000000001, 35000003, -77777, 0 };
	struct alloc_result a, b;
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &t, &a, &e) == ALLOC_DONE);
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &neg, &b, &e) == ALLOC_DONE);
	for (int i = 0; i < 2; i++) {
		CHECK_I64(b.parts[i].revenue_micros, -a.parts[i].revenue_micros);
		CHECK_I64(b.parts[i].listing_fee_micros, -a.parts[i].listing_fee_micros);
		CHECK_I64(b.parts[i].seller_tax_micros, -a.parts[i].seller_tax_micros);
		CHECK_I64(b.parts[i].net_micros, -a.parts[i].net_micros);
	}
}

/* SHARE and DIRECT are unchanged by SPEC v2: every component in proportion / to the ISV. */
TEST(share_and_direct_examples)
{
	struct alloc_split s;
	struct alloc_result r;
	struct err e;
	/* SHARE 25/75 of 100.01: 25.0025 / 75.0075, exact; the cost of goods changes nothing */
	struct match_offer o = offer(MATCH_BASIS_SHARE, "res", -1, 250000);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	struct alloc_totals t = { 100010000, -3500350, 0, -50000000 };
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &t, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.parts[0].revenue_micros, 25002500);
	CHECK_I64(r.parts[1].revenue_micros, 75007500);
	CHECK_I64(r.parts[0].listing_fee_micros, -875088);
	CHECK_I64(r.parts[0].listing_fee_micros + r.parts[1].listing_fee_micros, -3500350);
	CHECK(balanced(&r, &t));
	int64_t isv;
	REQUIRE(alloc_isv_by_weights(&s, t.revenue_micros, &isv));
	CHECK_I64(isv, 25002500);
	/* DIRECT: everything to the ISV; no split to check C against */
	o = offer(MATCH_BASIS_DIRECT, "", -1, -1);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	REQUIRE(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &t, &r, &e) == ALLOC_DONE);
	CHECK_I64(r.n, 1);
	CHECK_I64(r.parts[0].revenue_micros, 100010000);
	CHECK_I64(r.parts[0].net_micros, 100010000 - 3500350);
	CHECK(!alloc_isv_by_weights(&s, t.revenue_micros, &isv));
}

/* Overflow from input data is an error, never a wrap. */
TEST(overflow_is_an_error)
{
	struct alloc_split s;
	struct alloc_result r;
	struct err e = { 0 };
	struct match_offer o = offer(MATCH_BASIS_MARKUP, "res", 80000, -1);
	REQUIRE(alloc_split_of(&o, &s, &e) == 0);
	struct alloc_totals t = { INT64_MAX, 0, 0, INT64_MAX }; /* B − W overflows */
	CHECK_I64(alloc_group(&s, ALLOC_VIEW_SELLER_OF_RECORD, &t, &r, &e), -1);
	struct alloc_totals n = { INT64_MAX, INT64_MAX, 0, 0 }; /* the net overflows */
	CHECK_I64(alloc_group(&s, ALLOC_VIEW_ISV_OWN_FEED, &n, &r, &e), -1);
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
/* Property: over random groups, weights and views, every component sums to its total and a
 * reversal mirrors (SPEC §4.3 Σ parts = B + F + T, §2 alloc(−T) = −alloc(T)). */
TEST(property_random_groups)
{
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		struct match_offer o = offer((enum match_basis)(x % 3), "res", (x >> 40) % 5 ? (int64_t)(x >> 8) % 2000001 : -1,
					     (int64_t)(x >> 12) % 1000001);
		struct alloc_split s;
		struct err e;
		REQUIRE(alloc_split_of(&o, &s, &e) == 0);
		enum alloc_view view = o.basis != MATCH_BASIS_DIRECT && (x >> 50) % 4 == 0 ? ALLOC_VIEW_ISV_OWN_FEED
											     : ALLOC_VIEW_SELLER_OF_RECORD;
		int64_t base = (int64_t)(x >> 20) % INT64_C(1000000000000000);
		int64_t cogs = (x >> 30) % 3 ? -((base / 3) % INT64_C(100000000000000)) : 0;
		struct alloc_totals t = { base - 500000000000000, -((base / 7) % 1000000000), (base / 13) % 100000000, cogs };
		struct alloc_totals n = { -t.revenue_micros, -t.listing_fee_micros, -t.seller_tax_micros, -t.cogs_micros };
		struct alloc_result a, b;
		int ra = alloc_group(&s, view, &t, &a, &e), rb = alloc_group(&s, view, &n, &b, &e);
		if (ra != rb || ra < 0) {
			check_failed_++;
			return;
		}
		if (ra == ALLOC_INCOMPLETE) {
			if (s.weights_known || cogs != 0 || view != ALLOC_VIEW_SELLER_OF_RECORD) {
				check_failed_++;
				return;
			}
			continue;
		}
		if (!balanced(&a, &t) || !balanced(&b, &n) || a.n != b.n) {
			check_failed_++;
			return;
		}
		for (size_t p = 0; p < a.n; p++)
			if (b.parts[p].net_micros != -a.parts[p].net_micros) {
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
	RUN(split_unknown_markup);
	RUN(views);
	RUN(spec_worked_example);
	RUN(markup_cases);
	RUN(isv_own_feed);
	RUN(overflow_is_an_error);
	RUN(reversal_mirrors_to_the_micro);
	RUN(share_and_direct_examples);
	RUN(payable_per_currency);
	RUN(expected_fee_rounding);
	RUN(differs_at_the_tolerance);
	RUN(property_random_groups);
	RUN(role_names);
	return CHECK_EXIT;
}
