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
		/* SPEC §3.2: the reseller sells at wholesale × (1 + markup): weights [1, markup]. */
		if (!o->has_markup_rate || o->markup_rate_micros < 0)
			return err_set(e, EXIT_FAILED, "offer \"%s\": split basis MARKUP needs a markup_pct", o->offer_id);
		out->weights[0] = ALLOC_RATE_ONE;
		out->weights[1] = o->markup_rate_micros;
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

int alloc_group(const struct alloc_split *split, const struct alloc_totals *t, struct alloc_part *out,
		struct err *e)
{
	int64_t rev[ALLOC_PARTIES_MAX], fee[ALLOC_PARTIES_MAX], tax[ALLOC_PARTIES_MAX];
	ASSERT(split->n >= 1 && split->n <= ALLOC_PARTIES_MAX);
	money_alloc(t->revenue_micros, split->weights, split->n, rev);
	money_alloc(t->listing_fee_micros, split->weights, split->n, fee);
	money_alloc(t->seller_tax_micros, split->weights, split->n, tax);
	int64_t sum_net = 0, want_net;
	for (size_t p = 0; p < split->n; p++) {
		int64_t net;
		if (money_add(rev[p], fee[p], &net) != MONEY_OK || money_add(net, tax[p], &net) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the net of a party overflows");
		out[p].revenue_micros = rev[p];
		out[p].listing_fee_micros = fee[p];
		out[p].seller_tax_micros = tax[p];
		out[p].net_micros = net;
		/* Σ net_p = B + F + T exactly (SPEC §4.3); the sum of in-range parts cannot wrap when the
		 * total is in range, but check it as a ledger would. */
		if (money_add(sum_net, net, &sum_net) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "the net of a charge overflows");
	}
	if (money_add(t->revenue_micros, t->listing_fee_micros, &want_net) != MONEY_OK ||
	    money_add(want_net, t->seller_tax_micros, &want_net) != MONEY_OK)
		return err_set(e, EXIT_FAILED, "the net of a charge overflows");
	ASSERT(sum_net == want_net);
	return 0;
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
