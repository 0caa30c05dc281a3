/* test_match.c — SPEC §4.1 families and §4.2 matching rules, as pure functions. */
#include <stdlib.h>

#include "check.h"
#include "match.h"
#include "timeutil.h"

#define DAY(y, m, d) day_of(y, m, d)

static int32_t day_of(int y, int m, int d)
{
	char text[16];
	int64_t us;
	snprintf(text, sizeof text, "%04d-%02d-%02d", y, m, d);
	if (time_parse(text, strlen(text), &us) != 0)
		return INT32_MIN;
	return time_day_of(us);
}

TEST(families)
{
	static const struct {
		const char *type, *side;
		enum match_family want;
	} cases[] = {
		{ "SELLER_REV_SHARE", NULL, MATCH_FAM_REVENUE },
		{ "SELLER_REV_SHARE", "", MATCH_FAM_REVENUE },
		{ "SELLER_REV_SHARE", "SELLING", MATCH_FAM_REVENUE },
		{ "SELLER_REV_SHARE", "BUYING", MATCH_FAM_COGS },
		{ "SELLER_REV_SHARE_REFUND", "BUYING", MATCH_FAM_COGS },
		{ "SELLER_REV_SHARE_CREDIT", NULL, MATCH_FAM_REVENUE },
		{ "AWS_REV_SHARE", NULL, MATCH_FAM_LISTING_FEE },
		{ "AWS_REV_SHARE_REFUND", "BUYING", MATCH_FAM_LISTING_FEE },
		{ "AWS_REV_SHARE_CREDIT", NULL, MATCH_FAM_LISTING_FEE },
		{ "SELLER_TAX_SHARE", NULL, MATCH_FAM_SELLER_TAX },
		{ "SELLER_TAX_SHARE_REFUND", NULL, MATCH_FAM_SELLER_TAX },
		{ "SELLER_TAX_SHARE_CREDIT", NULL, MATCH_FAM_SELLER_TAX },
		{ "AWS_TAX_SHARE", NULL, MATCH_FAM_AWS_TAX },
		{ "AWS_TAX_SHARE_REFUND", NULL, MATCH_FAM_AWS_TAX },
		{ "AWS_TAX_SHARE_CREDIT", NULL, MATCH_FAM_AWS_TAX },
		{ "OTHER_SELLER_TAX_SHARE", NULL, MATCH_FAM_OTHER_TAX },
		{ "OTHER_SELLER_TAX_SHARE_REFUND", NULL, MATCH_FAM_OTHER_TAX },
		{ "OTHER_SELLER_TAX_SHARE_CREDIT", NULL, MATCH_FAM_OTHER_TAX },
		{ "AWS_INFRA_SHARE", NULL, MATCH_FAM_INFRA },
		{ "BALANCE_ADJUSTMENT", NULL, MATCH_FAM_BALANCE_ADJ },
		{ "DISBURSEMENT", NULL, MATCH_FAM_DISBURSEMENT },
		{ "DISBURSEMENT_FAILURE", NULL, MATCH_FAM_DISBURSEMENT_FAILURE },
		{ "seller_rev_share", NULL, MATCH_FAM_NONE },
		{ "SELLER_REV_SHARE_", NULL, MATCH_FAM_NONE },
		{ "", NULL, MATCH_FAM_NONE },
		{ NULL, NULL, MATCH_FAM_NONE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_I64(match_family_of(cases[i].type, cases[i].side), cases[i].want);
}

/* The offers of these tests, sorted by offer_id as reconcile loads them. */
static struct match_offer offers[] = {
	/* o-a: agreement ag-1, valid 2026 */
	{ .offer_id = "o-a", .agreement_id = "ag-1", .product_id = "p-1", .buyer_account_id = "b-1",
	  .isv_account_id = "isv", .reseller_account_id = "", .currency = "USD",
	  .has_valid_from = 1, .has_valid_until = 1 },
	/* o-b and o-c share agreement ag-dup: M1 is ambiguous */
	{ .offer_id = "o-b", .agreement_id = "ag-dup", .product_id = "p-2", .buyer_account_id = "b-2",
	  .isv_account_id = "isv", .reseller_account_id = "res", .currency = "USD" },
	{ .offer_id = "o-c", .agreement_id = "ag-dup", .product_id = "p-2", .buyer_account_id = "b-2",
	  .isv_account_id = "isv", .reseller_account_id = "res", .currency = "USD" },
	/* o-d: EUR, found by agreement ag-eur */
	{ .offer_id = "o-d", .agreement_id = "ag-eur", .product_id = "p-3", .buyer_account_id = "b-3",
	  .isv_account_id = "isv", .reseller_account_id = "", .currency = "EUR" },
	/* o-e, o-f: p-4 for b-4 in USD, consecutive validity: M3 picks by date */
	{ .offer_id = "o-e", .agreement_id = "", .product_id = "p-4", .buyer_account_id = "b-4",
	  .isv_account_id = "isv", .reseller_account_id = "", .currency = "USD",
	  .has_valid_from = 1, .has_valid_until = 1 },
	{ .offer_id = "o-f", .agreement_id = "", .product_id = "p-4", .buyer_account_id = "b-4",
	  .isv_account_id = "isv", .reseller_account_id = "", .currency = "USD", .has_valid_from = 1 },
	/* o-g: p-4 for b-4 in EUR, open validity: never M3 for a USD group */
	{ .offer_id = "o-g", .agreement_id = "", .product_id = "p-4", .buyer_account_id = "b-4",
	  .isv_account_id = "isv", .reseller_account_id = "", .currency = "EUR" },
	/* o-h, o-i: p-5 for b-5, both open: M3 ambiguous */
	{ .offer_id = "o-h", .agreement_id = "", .product_id = "p-5", .buyer_account_id = "b-5",
	  .isv_account_id = "isv", .reseller_account_id = "", .currency = "USD" },
	{ .offer_id = "o-i", .agreement_id = "", .product_id = "p-5", .buyer_account_id = "b-5",
	  .isv_account_id = "isv", .reseller_account_id = "", .currency = "USD" },
	/* usage offers: u-1 by agreement, u-2 by buyer + product code */
	{ .offer_id = "u-1", .agreement_id = "ag-u1", .product_id = "p-u", .product_code = "pc-u",
	  .buyer_account_id = "b-u", .isv_account_id = "isv", .reseller_account_id = "", .currency = "USD",
	  .usage = 1 },
	{ .offer_id = "u-2", .agreement_id = "ag-u2", .product_id = "p-u", .product_code = "pc-u",
	  .buyer_account_id = "b-v", .isv_account_id = "isv", .reseller_account_id = "", .currency = "USD",
	  .usage = 1, .has_valid_from = 1, .has_valid_until = 1 },
};
#define OFFERS_N (sizeof offers / sizeof offers[0])

static struct match_index *idx;

static void setup(void)
{
	offers[0].valid_from_day = DAY(2026, 1, 1);
	offers[0].valid_until_day = DAY(2026, 12, 31);
	offers[4].valid_from_day = DAY(2026, 1, 1);
	offers[4].valid_until_day = DAY(2026, 9, 30);
	offers[5].valid_from_day = DAY(2026, 10, 1);
	offers[10].valid_from_day = DAY(2026, 10, 1);
	offers[10].valid_until_day = DAY(2026, 10, 31);
	struct err e;
	if (match_index_build(offers, OFFERS_N, &idx, &e) != 0)
		abort();
}

static const char *offer_of(const struct match_result *r)
{
	return offers[r->offer].offer_id;
}

TEST(rules_in_order)
{
	static const struct {
		const char *name;
		struct match_group g;
		enum match_status status;
		enum match_rule rule;
		const char *offer;
		size_t candidates;
		int expired;
	} cases[] = {
		{ "M1 by agreement", { "ag-1", NULL, "p-1", "b-1", "USD", 0 }, MATCH_MATCHED, MATCH_RULE_M1, "o-a", 1, 0 },
		{ "M1 wins over M2", { "ag-1", "o-e", NULL, NULL, "USD", 0 }, MATCH_MATCHED, MATCH_RULE_M1, "o-a", 1, 0 },
		{ "M2 when no agreement", { NULL, "o-h", NULL, NULL, "USD", 0 }, MATCH_MATCHED, MATCH_RULE_M2, "o-h", 1, 0 },
		{ "M2 when agreement unknown", { "ag-none", "o-h", NULL, NULL, "USD", 0 }, MATCH_MATCHED, MATCH_RULE_M2, "o-h", 1, 0 },
		{ "M3 product+buyer+currency+date", { NULL, NULL, "p-4", "b-4", "USD", 0 }, MATCH_MATCHED, MATCH_RULE_M3, "o-e", 1, 0 },
		{ "M3 other validity window", { NULL, NULL, "p-4", "b-4", "USD", 1 }, MATCH_MATCHED, MATCH_RULE_M3, "o-f", 1, 0 },
		{ "M3 currency filters", { NULL, NULL, "p-4", "b-4", "EUR", 0 }, MATCH_MATCHED, MATCH_RULE_M3, "o-g", 1, 0 },
		{ "M1 ambiguous", { "ag-dup", "o-h", "p-5", "b-5", "USD", 0 }, MATCH_AMBIGUOUS_OFFER, MATCH_RULE_M1, NULL, 2, 0 },
		{ "M3 ambiguous", { NULL, NULL, "p-5", "b-5", "USD", 0 }, MATCH_AMBIGUOUS_OFFER, MATCH_RULE_M3, NULL, 2, 0 },
		{ "M1 currency mismatch", { "ag-eur", NULL, NULL, NULL, "USD", 0 }, MATCH_CURRENCY_MISMATCH, MATCH_RULE_M1, "o-d", 1, 0 },
		{ "M2 currency mismatch", { NULL, "o-d", NULL, NULL, "JPY", 0 }, MATCH_CURRENCY_MISMATCH, MATCH_RULE_M2, "o-d", 1, 0 },
		{ "nothing", { "ag-x", "o-x", "p-x", "b-x", "USD", 0 }, MATCH_NO_OFFER, MATCH_RULE_NONE, NULL, 0, 0 },
		{ "all empty", { "", "", "", "", "USD", 0 }, MATCH_NO_OFFER, MATCH_RULE_NONE, NULL, 0, 0 },
		{ "M3 needs a buyer", { NULL, NULL, "p-4", NULL, "USD", 0 }, MATCH_NO_OFFER, MATCH_RULE_NONE, NULL, 0, 0 },
		{ "M3 outside every validity", { NULL, NULL, "p-4", "b-4", "USD", -1 }, MATCH_NO_OFFER, MATCH_RULE_NONE, NULL, 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct match_group g = cases[i].g;
		/* the date codes: 0 = 2026-06-15, 1 = 2026-11-01, -1 = 2025-06-01 */
		g.date_day = g.date_day == 0 ? DAY(2026, 6, 15) : g.date_day == 1 ? DAY(2026, 11, 1) : DAY(2025, 6, 1);
		struct match_result r;
		match_group(idx, &g, &r);
		if (r.status != cases[i].status || r.rule != cases[i].rule || r.candidates != cases[i].candidates ||
		    r.expired != cases[i].expired || (cases[i].offer && strcmp(offer_of(&r), cases[i].offer) != 0)) {
			printf("  case \"%s\": status %s rule %s offer %s candidates %zu expired %d\n", cases[i].name,
			       match_status_name(r.status), match_rule_name(r.rule) ? match_rule_name(r.rule) : "-",
			       r.status == MATCH_MATCHED || r.status == MATCH_CURRENCY_MISMATCH ? offer_of(&r) : "-",
			       r.candidates, r.expired);
			check_failed_++;
		}
	}
}

/* SPEC §4.2: validity in UTC days, both ends inclusive; M1/M2 outside it is allocated but flagged. */
TEST(validity_inclusive_and_expired)
{
	const struct match_offer *a = &offers[0];
	CHECK(match_offer_valid_on(a, DAY(2026, 1, 1)));
	CHECK(match_offer_valid_on(a, DAY(2026, 12, 31)));
	CHECK(!match_offer_valid_on(a, DAY(2025, 12, 31)));
	CHECK(!match_offer_valid_on(a, DAY(2027, 1, 1)));
	CHECK(match_offer_valid_on(&offers[5], DAY(2999, 1, 1))); /* open end */
	CHECK(match_offer_valid_on(&offers[7], DAY(1970, 1, 1))); /* open both */

	struct match_group g = { "ag-1", NULL, NULL, NULL, "USD", DAY(2027, 1, 1) };
	struct match_result r;
	match_group(idx, &g, &r);
	CHECK_I64(r.status, MATCH_MATCHED);
	CHECK_I64(r.rule, MATCH_RULE_M1);
	CHECK_I64(r.expired, 1);
	g.date_day = DAY(2026, 12, 31);
	match_group(idx, &g, &r);
	CHECK_I64(r.expired, 0);
	/* M2 expired too */
	struct match_group g2 = { NULL, "o-e", NULL, NULL, "USD", DAY(2026, 10, 1) };
	match_group(idx, &g2, &r);
	CHECK_I64(r.rule, MATCH_RULE_M2);
	CHECK_I64(r.expired, 1);
}

TEST(seller_of_record)
{
	CHECK_STR(match_seller_of_record(&offers[0]), "isv");
	CHECK_STR(match_seller_of_record(&offers[1]), "res");
}

TEST(usage_offer_claims)
{
	size_t o = 99;
	/* by agreement */
	CHECK_I64(match_usage_offer(idx, "ag-u1", "someone", "pc-x", DAY(2026, 10, 5), &o), 1);
	CHECK_STR(offers[o].offer_id, "u-1");
	/* an agreement of a CONTRACT offer does not claim usage; fall back to buyer + code */
	CHECK_I64(match_usage_offer(idx, "ag-1", "b-u", "pc-u", DAY(2026, 10, 5), &o), 1);
	CHECK_STR(offers[o].offer_id, "u-1");
	/* by buyer + product code within validity */
	CHECK_I64(match_usage_offer(idx, NULL, "b-v", "pc-u", DAY(2026, 10, 31), &o), 1);
	CHECK_STR(offers[o].offer_id, "u-2");
	CHECK_I64(match_usage_offer(idx, NULL, "b-v", "pc-u", DAY(2026, 11, 1), &o), 0);
	CHECK_I64(match_usage_offer(idx, "", "b-none", "pc-u", DAY(2026, 10, 5), &o), 0);
}

TEST(empty_index)
{
	struct match_index *empty;
	struct err e;
	REQUIRE(match_index_build(offers, 0, &empty, &e) == 0);
	struct match_group g = { "ag-1", "o-a", "p-1", "b-1", "USD", 0 };
	struct match_result r;
	match_group(empty, &g, &r);
	CHECK_I64(r.status, MATCH_NO_OFFER);
	size_t o;
	CHECK_I64(match_usage_offer(empty, "ag-u1", "b-u", "pc-u", 0, &o), 0);
	match_index_free(empty);
}

TEST(names)
{
	CHECK_STR(match_rule_name(MATCH_RULE_M1), "M1");
	CHECK_STR(match_rule_name(MATCH_RULE_M3), "M3");
	CHECK(match_rule_name(MATCH_RULE_NONE) == NULL);
	CHECK_STR(match_status_name(MATCH_AMBIGUOUS_OFFER), "AMBIGUOUS_OFFER");
	CHECK_STR(match_status_name(MATCH_CURRENCY_MISMATCH), "CURRENCY_MISMATCH");
}

int main(void)
{
	setup();
	RUN(families);
	RUN(rules_in_order);
	RUN(validity_inclusive_and_expired);
	RUN(seller_of_record);
	RUN(usage_offer_claims);
	RUN(empty_index);
	RUN(names);
	match_index_free(idx);
	return CHECK_EXIT;
}
