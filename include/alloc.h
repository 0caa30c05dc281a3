/* alloc.h — SPEC §4.3 (allocation of a matched charge group from its recipient's point of view,
 * the FEE_VARIANCE and SPLIT_VARIANCE checks) and §4.4 (payout statement rounding). Pure functions
 * of integers: the only arithmetic is money.h's, so every number can be traced to SPEC §2.
 *
 * The three views of SPEC §4.3, for an offer whose seller of record is the reseller when it has
 * one, else the ISV:
 *   recipient = seller of record   DIRECT: the ISV gets B, F, T. SHARE: every component split by
 *                                  the weights. MARKUP (CPPO): the ISV gets its wholesale W (−C
 *                                  when the group has cost of goods, else alloc(B, w)[ISV]) and
 *                                  no fee or tax; the reseller gets B − W, F, T.
 *   recipient = ISV of a CPPO      the ISV's own feed: the ISV alone gets B, F, T.
 *   anyone else                    RECIPIENT_NOT_PARTY, not allocated.
 * In every view Σ parts = B + F + T exactly, component by component (asserted).
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
	enum match_basis basis;
	int weights_known;       /* 0: MARKUP with an unknown markup (SPEC §3.2, a derived CPPO) */
	int64_t weights[ALLOC_PARTIES_MAX];
	enum alloc_role roles[ALLOC_PARTIES_MAX];
	const char *accounts[ALLOC_PARTIES_MAX]; /* borrowed from the offer */
};

/* SPEC §3.2: DIRECT [1] (the ISV); MARKUP [1 000 000, markup_rate]; SHARE [isv_share_rate,
 * 1 000 000 − isv_share_rate], parties ISV and RESELLER. A MARKUP offer without a markup rate has
 * weights_known = 0 (an unknown markup: allocated from the cost of goods only, SPEC §4.3). Fails
 * (EXIT_FAILED, naming the offer) when the terms cannot be split: MARKUP/SHARE without a reseller,
 * SHARE without its rate, an isv_share_rate above 100 %, or a negative rate; ingest rejects such
 * rows, so this is a guard. */
int alloc_split_of(const struct match_offer *o, struct alloc_split *out, struct err *e);

/* SPEC §4.3: whose point of view a matched group is allocated from. */
enum alloc_view {
	ALLOC_VIEW_SELLER_OF_RECORD = 0, /* the recipient is the offer's seller of record */
	ALLOC_VIEW_ISV_OWN_FEED,         /* the recipient is the ISV of a CPPO offer (its own feed) */
	ALLOC_VIEW_NOT_PARTY,            /* neither: RECIPIENT_NOT_PARTY */
};

/* The view of a group received by recipient (exact string comparison: both forms of one account
 * must have been joined before, SPEC §1). */
enum alloc_view alloc_view_of(const struct match_offer *o, const char *recipient);

/* A group's components (SPEC §4.1): B, F, T are allocated; C (cost of goods) decides the ISV's
 * wholesale in a MARKUP group. In micros. */
struct alloc_totals {
	int64_t revenue_micros;
	int64_t listing_fee_micros;
	int64_t seller_tax_micros;
	int64_t cogs_micros;
};

struct alloc_part {
	int64_t revenue_micros;
	int64_t listing_fee_micros;
	int64_t seller_tax_micros;
	int64_t net_micros; /* revenue + listing_fee + seller_tax */
};

/* An allocated group: its parties in order (ISV first) and their parts. */
struct alloc_result {
	size_t n;
	enum alloc_role roles[ALLOC_PARTIES_MAX];
	const char *accounts[ALLOC_PARTIES_MAX]; /* borrowed from the split */
	struct alloc_part parts[ALLOC_PARTIES_MAX];
};

enum alloc_outcome {
	ALLOC_DONE = 0,        /* out holds the parts */
	ALLOC_INCOMPLETE = 1,  /* MARKUP with an unknown markup and no cost of goods: OFFER_INCOMPLETE */
};

/* SPEC §4.3 from the view of the group's recipient (view is not ALLOC_VIEW_NOT_PARTY). Returns
 * ALLOC_DONE or ALLOC_INCOMPLETE, or −1 when a part overflows int64 (from input data).
 * Postcondition (asserted): every component sums to its total, Σ net_p = B + F + T. */
int alloc_group(const struct alloc_split *split, enum alloc_view view, const struct alloc_totals *t,
		struct alloc_result *out, struct err *e);

/* SPEC §4.3 SPLIT_VARIANCE's comparand: alloc(B, w)[ISV], when the markup or share is known
 * (MARKUP or SHARE with weights). Returns 1 and *out, else 0 (no check). */
int alloc_isv_by_weights(const struct alloc_split *split, int64_t revenue_micros, int64_t *out);

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
