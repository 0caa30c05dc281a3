/* match.h — charge groups and their offers: SPEC §4.1 (what a row counts as) and §4.2 (rules
 * M1 → M2 → M3). Pure functions over values in memory: no database, no allocation except the
 * index, so every rule is tested on its own (tests/unit/test_match.c).
 *
 * Ownership: a match_index borrows the offers array and every string in it; the caller keeps them
 * alive (reconcile keeps the PGresult they point into) until match_index_free.
 * Empty strings and NULLs are the same thing here: an empty key never matches.
 */
#ifndef SETTLE_MATCH_H
#define SETTLE_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* SPEC §4.1: the component a billing-event row adds to. */
enum match_family {
	MATCH_FAM_NONE = 0,        /* a type settle does not group (never produced by ingest) */
	MATCH_FAM_REVENUE,         /* B: SELLER_REV_SHARE{,_REFUND,_CREDIT}, charge_side not BUYING */
	MATCH_FAM_COGS,            /* C: the same types with charge_side = BUYING */
	MATCH_FAM_LISTING_FEE,     /* F: AWS_REV_SHARE{,_REFUND,_CREDIT} */
	MATCH_FAM_SELLER_TAX,      /* T: SELLER_TAX_SHARE{,_REFUND,_CREDIT} */
	MATCH_FAM_AWS_TAX,         /* X: AWS_TAX_SHARE{,_REFUND,_CREDIT}, never allocated or paid */
	MATCH_FAM_OTHER_TAX,       /* OTHER_SELLER_TAX_SHARE{,_REFUND,_CREDIT}: reported only */
	MATCH_FAM_INFRA,           /* AWS_INFRA_SHARE: reported only */
	MATCH_FAM_BALANCE_ADJ,     /* BALANCE_ADJUSTMENT: reported, and an exception */
	MATCH_FAM_DISBURSEMENT,    /* DISBURSEMENT: a payout (SPEC §4.5) */
	MATCH_FAM_DISBURSEMENT_FAILURE,
};

/* The family of a transaction_type (exact, case-sensitive) given its charge_side (NULL = empty). */
enum match_family match_family_of(const char *transaction_type, const char *charge_side);

enum match_basis { MATCH_BASIS_DIRECT = 0, MATCH_BASIS_MARKUP, MATCH_BASIS_SHARE };

/* An offer as current at the run's as-of (SPEC §3.2). Days are days since 1970-01-01 (UTC). */
struct match_offer {
	const char *offer_id;
	const char *agreement_id;        /* "" when none */
	const char *product_id;
	const char *product_code;
	const char *buyer_account_id;
	const char *isv_account_id;
	const char *reseller_account_id; /* "" for a direct offer */
	const char *currency;
	int usage;                       /* pricing_model = USAGE */
	enum match_basis basis;
	int has_markup_rate, has_isv_share_rate, has_listing_fee_rate;
	int64_t markup_rate_micros, isv_share_rate_micros, listing_fee_rate_micros;
	int has_valid_from, has_valid_until;
	int32_t valid_from_day, valid_until_day;
	/* SPEC §3.2: "OFFER_TERMS_CONFLICT" or "OFFER_INCOMPLETE" when the terms cannot be used (the
	 * offer still matches, so that its groups are explained, but nothing is allocated through
	 * it), else NULL; problem_detail says which term. */
	const char *problem_code;
	const char *problem_detail;
};

/* SPEC §4.2: validity compares UTC calendar days, both ends inclusive; an empty end is open. */
int match_offer_valid_on(const struct match_offer *o, int32_t day);

/* SPEC §4.3: reseller_account_id when set, else isv_account_id. */
const char *match_seller_of_record(const struct match_offer *o);

/* What a charge group offers to the rules (SPEC §4.2). NULL or "" = absent. */
struct match_group {
	const char *agreement_id;
	const char *offer_id;
	const char *product_id;
	const char *buyer_account_id;
	const char *currency;
	int32_t date_day; /* earliest invoice_date of its rows */
};

enum match_status {
	MATCH_MATCHED = 0,
	MATCH_NO_OFFER,
	MATCH_AMBIGUOUS_OFFER,
	MATCH_CURRENCY_MISMATCH,
};

enum match_rule { MATCH_RULE_NONE = 0, MATCH_RULE_M1, MATCH_RULE_M2, MATCH_RULE_M3 };

struct match_result {
	enum match_status status;
	enum match_rule rule;   /* the rule that decided (also for AMBIGUOUS and CURRENCY_MISMATCH) */
	size_t offer;           /* index into the offers array when status is MATCHED or CURRENCY_MISMATCH */
	size_t candidates;      /* offers the deciding rule found (≥ 2 when AMBIGUOUS) */
	int expired;            /* MATCHED by M1/M2 with date_day outside the offer's validity */
};

struct match_index;

/* Builds the lookup index over offers[0..n). n may be 0. */
int match_index_build(const struct match_offer *offers, size_t n, struct match_index **out, struct err *e);
void match_index_free(struct match_index *idx);

/* SPEC §4.2: M1 (agreement_id), then M2 (offer_id), then M3 (product + buyer + currency + date
 * within validity); the first rule that finds an offer decides; several offers: AMBIGUOUS; none:
 * NO_OFFER; an offer in another currency: CURRENCY_MISMATCH. */
void match_group(const struct match_index *idx, const struct match_group *g, struct match_result *out);

/* "M1", "M2", "M3", or NULL for MATCH_RULE_NONE. */
const char *match_rule_name(enum match_rule rule);
/* "MATCHED", "NO_OFFER", "AMBIGUOUS_OFFER", "CURRENCY_MISMATCH". */
const char *match_status_name(enum match_status st);

/* The offers a USAGE metering record can belong to (SPEC §4.6): by agreement_id when it names one
 * (and an offer has it), else by customer = buyer_account_id and product_code, the record's day
 * within validity. Only USAGE offers count. Returns the number found (0, 1 or more) and the
 * smallest such offer index in *offer. */
size_t match_usage_offer(const struct match_index *idx, const char *agreement_id, const char *customer,
			 const char *product_code, int32_t day, size_t *offer);

#endif
