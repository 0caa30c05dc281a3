/* alloc.h — SPEC §4.3 (allocation of a matched charge group over the offer's parties, the
 * FEE_VARIANCE and SPLIT_VARIANCE checks) and §4.4 (payout statement rounding). Pure functions of
 * integers: the only arithmetic is money.h's, so every number can be traced to SPEC §2.
 */
#ifndef SETTLE_ALLOC_H
#define SETTLE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "match.h"
#include "money.h"

#define ALLOC_PARTIES_MAX 2
#define ALLOC_RATE_ONE INT64_C(1000000) /* 100 % as micros of a fraction */

enum alloc_role { ALLOC_ROLE_ISV = 0, ALLOC_ROLE_RESELLER = 1 };

/* The offer's parties in allocation order (ISV first, SPEC §8) and their weights (SPEC §3.2). */
struct alloc_split {
	size_t n;
	int64_t weights[ALLOC_PARTIES_MAX];
	enum alloc_role roles[ALLOC_PARTIES_MAX];
	const char *accounts[ALLOC_PARTIES_MAX]; /* borrowed from the offer */
};

/* SPEC §3.2: DIRECT [1] (the ISV); MARKUP [1 000 000, markup_rate]; SHARE [isv_share_rate,
 * 1 000 000 − isv_share_rate], parties ISV and RESELLER. Fails (EXIT_FAILED, naming the offer) when
 * the terms cannot be split: MARKUP/SHARE without a reseller or without their rate, an
 * isv_share_rate above 100 %, or a negative rate; ingest rejects such rows, so this is a guard. */
int alloc_split_of(const struct match_offer *o, struct alloc_split *out, struct err *e);

/* A group's allocatable components (SPEC §4.1): B, F, T in micros. */
struct alloc_totals {
	int64_t revenue_micros;
	int64_t listing_fee_micros;
	int64_t seller_tax_micros;
};

struct alloc_part {
	int64_t revenue_micros;
	int64_t listing_fee_micros;
	int64_t seller_tax_micros;
	int64_t net_micros; /* revenue + listing_fee + seller_tax */
};

/* SPEC §4.3: revenue_p = alloc(B, w)[p], listing_fee_p = alloc(F, w)[p], seller_tax_p = alloc(T, w)[p],
 * net_p their sum. out has split->n slots. Fails only when a net overflows int64 (MONEY_OVERFLOW,
 * from input data). Postcondition (asserted): every component sums to its total. */
int alloc_group(const struct alloc_split *split, const struct alloc_totals *t, struct alloc_part *out,
		struct err *e);

/* SPEC §4.3 FEE_VARIANCE: the expected listing fee −round(B × rate) (rounded to micros in the
 * configured mode). Returns MONEY_OK or MONEY_OVERFLOW. */
enum money_status alloc_expected_fee(int64_t revenue_micros, int64_t listing_fee_rate_micros,
				     enum money_rounding mode, int64_t *out);

/* |a − b| > tol, computed without overflow (a − b may not fit an int64). */
int alloc_differs(int64_t a, int64_t b, int64_t tol_micros);

/* SPEC §4.4: net_payable = round(net, minor units); rounding = net_payable − net. */
enum money_status alloc_payable(int64_t net_micros, int minor_units, enum money_rounding mode,
				int64_t *net_payable_micros, int64_t *rounding_micros);

/* "ISV" / "RESELLER". */
const char *alloc_role_name(enum alloc_role role);

#endif
