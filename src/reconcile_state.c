/* reconcile_state.c — the state of one period's computation that every phase adds to (see
 * reconcile_int.h): exceptions, payout statements, tolerances. Below the phase files
 * (reconcile_groups.c, reconcile_payouts.c, reconcile_usage.c, reconcile_tax.c) and reconcile.c,
 * which drives them: the phases call down into this file, never back up into reconcile.c.
 */
#include <string.h>

#include "currency.h"
#include "reconcile_int.h"

const char *rc_nullif(const char *s)
{
	return s && *s ? s : NULL;
}

int rc_minor_units(const char *currency, int *out, struct err *e)
{
	int mu = currency ? currency_minor_units(currency, strlen(currency)) : -1;
	if (mu < 0)
		return err_set(e, EXIT_FAILED, "unknown currency \"%s\" in stored data", currency ? currency : "");
	*out = mu;
	return 0;
}

int rc_tolerance(const struct rc *rc, const char *currency, int64_t *out, struct err *e)
{
	int64_t tol = config_tolerance_micros(rc->cfg, currency);
	if (tol < 0)
		return err_set(e, EXIT_FAILED, "unknown currency \"%s\" in stored data", currency);
	*out = tol;
	return 0;
}

int rc_exception_add(struct rc *rc, const struct rc_exception *x, struct err *e)
{
	struct rio_out *o = &rc->out_exc;
	rio_text(o, x->code);
	rio_text(o, x->reference);
	rio_text(o, rc_nullif(x->recipient_account_id));
	rio_text(o, rc_nullif(x->agreement_id));
	rio_text(o, rc_nullif(x->offer_id));
	rio_text(o, rc_nullif(x->currency));
	if (x->has_expected)
		rio_int(o, x->expected_micros);
	else
		rio_null(o);
	if (x->has_actual)
		rio_int(o, x->actual_micros);
	else
		rio_null(o);
	int64_t diff;
	if (x->has_expected && x->has_actual) {
		if (money_sub(x->actual_micros, x->expected_micros, &diff) != MONEY_OK)
			return err_set(e, EXIT_FAILED, "%s %s: the difference overflows", x->code, x->reference);
		rio_int(o, diff);
	} else {
		rio_null(o);
	}
	rio_text(o, x->detail);
	rio_end_row(o);
	rc->summary.exceptions++;
	return 0;
}

static int sums_add(struct rc_sums *s, const struct alloc_part *part)
{
	s->parts++;
	return money_add(s->revenue_micros, part->revenue_micros, &s->revenue_micros) != MONEY_OK ||
			       money_add(s->listing_fee_micros, part->listing_fee_micros, &s->listing_fee_micros) != MONEY_OK ||
			       money_add(s->seller_tax_micros, part->seller_tax_micros, &s->seller_tax_micros) != MONEY_OK ||
			       money_add(s->net_micros, part->net_micros, &s->net_micros) != MONEY_OK
		       ? -1
		       : 0;
}

int rc_statement_add(struct rc *rc, const char *account, enum alloc_role role, const char *currency, int via,
		     const struct alloc_part *part, struct err *e)
{
	ASSERT(part->net_micros == part->revenue_micros + part->listing_fee_micros + part->seller_tax_micros);
	char key[512];
	int n = snprintf(key, sizeof key, "%s\x1f%d\x1f%s", account, (int)role, currency);
	if (n < 0 || (size_t)n >= sizeof key)
		return err_set(e, EXIT_FAILED, "party account \"%.64s...\" is too long", account);
	size_t id;
	int added;
	if (rio_map_put(&rc->statement_map, key, &id, &added, e) < 0)
		return -1;
	if (added) {
		if (rc->statements_n == rc->statements_cap) {
			size_t cap = rc->statements_cap ? rc->statements_cap * 2 : 64;
			struct rc_statement *s = realloc(rc->statements, cap * sizeof *s);
			if (!s)
				return err_set(e, EXIT_FAILED, "out of memory");
			rc->statements = s;
			rc->statements_cap = cap;
		}
		ASSERT(id == rc->statements_n);
		struct rc_statement *s = &rc->statements[rc->statements_n++];
		memset(s, 0, sizeof *s);
		s->account = account;
		s->role = role;
		s->currency = currency;
	}
	struct rc_statement *s = &rc->statements[id];
	if (sums_add(via ? &s->via : &s->own, part) < 0)
		return err_set(e, EXIT_FAILED, "the payout statement of %s in %s overflows", account, currency);
	return 0;
}
