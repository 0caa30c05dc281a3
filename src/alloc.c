/* alloc.c — SPEC §4.3 allocation and checks, §4.4 payable rounding (see alloc.h). */
#include "alloc.h"

#include <string.h>

static int present(const char *s)
{
	return s && *s;
}

int alloc_split_of(const struct match_offer *o, struct alloc_split *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	out->basis = o->basis;
	out->weights_known = 1;
	out->roles[0] = ALLOC_ROLE_ISV;
	out->accounts[0] = o->isv_account_id;
	if (o->basis == MATCH_BASIS_DIRECT) {
		/* SPEC §3.2: one party, the ISV, weight 1. */
		out->n = 1;
		out->weights[0] = 1;
		return 0;
	}
	if (!present(o->reseller_account_id))
		return err_set(e, EXIT_FAILED, "offer \"%s\": split basis %s needs a reseller_account_id", o->offer_id,
			       o->basis == MATCH_BASIS_MARKUP ? "MARKUP" : "SHARE");
	out->n = 2;
	out->roles[1] = ALLOC_ROLE_RESELLER;
	out->accounts[1] = o->reseller_account_id;
	if (o->basis == MATCH_BASIS_MARKUP) {
		if (o->has_markup_rate && o->markup_rate_micros < 0)
			return err_set(e, EXIT_FAILED, "offer \"%s\": split basis MARKUP has a negative markup_pct", o->offer_id);
		/* SPEC §3.2: the reseller sells at wholesale × (1 + markup): weights [1, markup]. A
		 * derived CPPO without a stated markup is MARKUP with an unknown markup (weights
		 * unknown): its wholesale can only come from the cost of goods (SPEC §4.3). */
		out->weights_known = o->has_markup_rate;
		out->weights[0] = ALLOC_RATE_ONE;
		out->weights[1] = o->has_markup_rate ? o->markup_rate_micros : 0;
		return 0;
	}
	ASSERT(o->basis == MATCH_BASIS_SHARE);
	if (!o->has_isv_share_rate || o->isv_share_rate_micros < 0 || o->isv_share_rate_micros > ALLOC_RATE_ONE)
		return err_set(e, EXIT_FAILED, "offer \"%s\": split basis SHARE needs an isv_share_pct between 0 and 100",
			       o->offer_id);
	out->weights[0] = o->isv_share_rate_micros;
	out->weights[1] = ALLOC_RATE_ONE - o->isv_share_rate_micros;
	return 0;
}

enum alloc_view alloc_view_of(const struct match_offer *o, const char *recipient)
{
	ASSERT(recipient != NULL);
	/* SPEC §4.3: the seller of record is the reseller when set, else the ISV. */
	if (strcmp(recipient, match_seller_of_record(o)) == 0)
		return ALLOC_VIEW_SELLER_OF_RECORD;
	/* The ISV of a CPPO offer: its own feed of the reseller's sale. */
	if (present(o->reseller_account_id) && present(o->isv_account_id) && strcmp(recipient, o->isv_account_id) == 0)
		return ALLOC_VIEW_ISV_OWN_FEED;
	return ALLOC_VIEW_NOT_PARTY;
}

/* One party's part with net = revenue + fee + tax; −1 when the net overflows. */
static int part_set(struct alloc_part *p, int64_t revenue, int64_t fee, int64_t tax, struct err *e)
{
	int64_t net;
	if (money_add(revenue, fee, &net) != MONEY_OK || money_add(net, tax, &net) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the net of a party overflows");
	p->revenue_micros = revenue;
	p->listing_fee_micros = fee;
	p->seller_tax_micros = tax;
	p->net_micros = net;
	return 0;
}

/* SPEC §4.3 postcondition: each component and the net sum to the group's, exactly. Sums in 128
 * bits: parts of in-range totals cannot wrap, but a ledger checks it anyway. */
static void assert_balanced(const struct alloc_result *r, const struct alloc_totals *t)
{
	__int128 rev = 0, fee = 0, tax = 0, net = 0;
	ASSERT(r->n >= 1 && r->n <= ALLOC_PARTIES_MAX);
	for (size_t p = 0; p < r->n; p++) {
		const struct alloc_part *x = &r->parts[p];
		ASSERT((__int128)x->net_micros ==
		       (__int128)x->revenue_micros + x->listing_fee_micros + x->seller_tax_micros);
		rev += x->revenue_micros;
		fee += x->listing_fee_micros;
		tax += x->seller_tax_micros;
		net += x->net_micros;
	}
	ASSERT(rev == t->revenue_micros && fee == t->listing_fee_micros && tax == t->seller_tax_micros);
	ASSERT(net == (__int128)t->revenue_micros + t->listing_fee_micros + t->seller_tax_micros);
}

/* SPEC §4.3, recipient = seller of record, MARKUP: the ISV's wholesale W and nothing else; the
 * reseller the rest of B and its own fee and tax. */
static int alloc_markup(const struct alloc_split *split, const struct alloc_totals *t, struct alloc_result *out,
			struct err *e)
{
	int64_t wholesale, rest;
	if (t->cogs_micros != 0) {
		/* W = −C: the reseller's payment of wholesale to the ISV, as the feed states it. */
		if (money_neg(t->cogs_micros, &wholesale) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the cost of goods overflows");
	} else if (!alloc_isv_by_weights(split, t->revenue_micros, &wholesale)) {
		return ALLOC_INCOMPLETE; /* unknown markup and no cost of goods: nothing to go by */
	}
	if (money_sub(t->revenue_micros, wholesale, &rest) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the reseller's revenue overflows");
	if (part_set(&out->parts[0], wholesale, 0, 0, e) < 0 ||
	    part_set(&out->parts[1], rest, t->listing_fee_micros, t->seller_tax_micros, e) < 0)
		return -1;
	return ALLOC_DONE;
}

int alloc_group(const struct alloc_split *split, enum alloc_view view, const struct alloc_totals *t,
		struct alloc_result *out, struct err *e)
{
	ASSERT(split->n >= 1 && split->n <= ALLOC_PARTIES_MAX);
	ASSERT(view == ALLOC_VIEW_SELLER_OF_RECORD || view == ALLOC_VIEW_ISV_OWN_FEED);
	ASSERT(split->weights_known || split->basis == MATCH_BASIS_MARKUP);
	memset(out, 0, sizeof *out);
	out->n = split->n;
	for (size_t p = 0; p < split->n; p++) {
		out->roles[p] = split->roles[p];
		out->accounts[p] = split->accounts[p];
	}
	int rc;
	if (view == ALLOC_VIEW_ISV_OWN_FEED || split->basis == MATCH_BASIS_DIRECT) {
		/* DIRECT, or the ISV's own feed of a CPPO sale: the ISV alone gets B, F, T. */
		ASSERT(split->roles[0] == ALLOC_ROLE_ISV);
		out->n = 1;
		rc = part_set(&out->parts[0], t->revenue_micros, t->listing_fee_micros, t->seller_tax_micros, e);
	} else if (split->basis == MATCH_BASIS_MARKUP) {
		rc = alloc_markup(split, t, out, e);
	} else {
		/* SHARE: every component in proportion (money_alloc asserts each sums to its total). */
		int64_t rev[ALLOC_PARTIES_MAX], fee[ALLOC_PARTIES_MAX], tax[ALLOC_PARTIES_MAX];
		money_alloc(t->revenue_micros, split->weights, split->n, rev);
		money_alloc(t->listing_fee_micros, split->weights, split->n, fee);
		money_alloc(t->seller_tax_micros, split->weights, split->n, tax);
		rc = 0;
		for (size_t p = 0; p < split->n && rc == 0; p++)
			rc = part_set(&out->parts[p], rev[p], fee[p], tax[p], e);
	}
	if (rc != ALLOC_DONE) {
		out->n = 0;
		return rc;
	}
	assert_balanced(out, t);
	return ALLOC_DONE;
}

int alloc_isv_by_weights(const struct alloc_split *split, int64_t revenue_micros, int64_t *out)
{
	if (split->basis == MATCH_BASIS_DIRECT || !split->weights_known)
		return 0;
	ASSERT(split->n == 2);
	int64_t parts[ALLOC_PARTIES_MAX];
	money_alloc(revenue_micros, split->weights, split->n, parts);
	*out = parts[0];
	return 1;
}

enum money_status alloc_expected_fee(int64_t revenue_micros, int64_t listing_fee_rate_micros,
				     enum money_rounding mode, int64_t *out)
{
	int64_t product;
	enum money_status st = money_mul_rate(revenue_micros, listing_fee_rate_micros, mode, &product);
	if (st != MONEY_OK)
		return st;
	return money_neg(product, out);
}

int alloc_differs(int64_t a, int64_t b, int64_t tol_micros)
{
	__int128 d = (__int128)a - (__int128)b;
	if (d < 0)
		d = -d;
	return d > (__int128)tol_micros;
}

enum money_status alloc_payable(int64_t net_micros, int minor_units, enum money_rounding mode,
				int64_t *net_payable_micros, int64_t *rounding_micros)
{
	int64_t payable, rounding;
	enum money_status st = money_round(net_micros, minor_units, mode, &payable);
	if (st != MONEY_OK)
		return st;
	st = money_sub(payable, net_micros, &rounding);
	if (st != MONEY_OK)
		return st;
	*net_payable_micros = payable;
	*rounding_micros = rounding;
	return MONEY_OK;
}

const char *alloc_role_name(enum alloc_role role)
{
	return role == ALLOC_ROLE_ISV ? "ISV" : "RESELLER";
}
