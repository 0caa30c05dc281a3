/* disburse.c — SPEC §4.5 and §4.8 (see disburse.h). */
#include "disburse.h"

#include <stdlib.h>
#include <string.h>

#include "money.h"

static int present(const char *s)
{
	return s && *s;
}

enum disburse_status disburse_status_of(int64_t remainder_micros, int64_t tol_micros, int any_line,
					int latest_is_failure)
{
	ASSERT(tol_micros >= 0);
	/* SPEC §4.5: the order of the checks is the contract. */
	if (remainder_micros > tol_micros && latest_is_failure)
		return DISBURSE_FAILED;
	if (remainder_micros < -tol_micros)
		return DISBURSE_OVER;
	if (!any_line)
		return DISBURSE_NOT_DISBURSED;
	if (remainder_micros <= tol_micros)
		return DISBURSE_DISBURSED;
	return DISBURSE_PARTIAL;
}

const char *disburse_status_name(enum disburse_status st)
{
	switch (st) {
	case DISBURSE_DISBURSED:
		return "DISBURSED";
	case DISBURSE_PARTIAL:
		return "PARTIAL";
	case DISBURSE_OVER:
		return "OVER";
	case DISBURSE_NOT_DISBURSED:
		return "NOT_DISBURSED";
	case DISBURSE_FAILED:
		return "FAILED";
	}
	return "UNKNOWN";
}

int disburse_is_aged(enum disburse_status st, int64_t remainder_micros, int64_t tol_micros)
{
	ASSERT(tol_micros >= 0);
	if (st != DISBURSE_PARTIAL && st != DISBURSE_NOT_DISBURSED && st != DISBURSE_FAILED)
		return 0;
	return remainder_micros > tol_micros;
}

int disburse_trace_is_placeholder(const char *bank_trace_id)
{
	return bank_trace_id && (strcmp(bank_trace_id, "EMEA_MP_TEST_TRACE_ID") == 0 || strcmp(bank_trace_id, "testTraceId") == 0);
}

const char *disburse_aging_bucket(int64_t days)
{
	if (days <= 30)
		return "0-30";
	if (days <= 60)
		return "31-60";
	if (days <= 90)
		return "61-90";
	if (days <= 120)
		return "91-120";
	return "over 120";
}

/* ---------------------------------------------------------------------------------------------
 * Deposit matching
 */

const char *disburse_paid_currency(const struct disburse_payout *p)
{
	return present(p->paid_currency) ? p->paid_currency : p->currency;
}

int64_t disburse_paid_amount(const struct disburse_payout *p)
{
	return present(p->paid_currency) ? p->paid_amount_micros : p->amount_micros;
}

/* qsort has no context argument; the matcher is not reentrant (single-threaded settle). */
static const struct disburse_deposit *sort_deposits;

static int by_trace_cmp(const void *a, const void *b)
{
	const struct disburse_deposit *da = &sort_deposits[*(const size_t *)a];
	const struct disburse_deposit *db = &sort_deposits[*(const size_t *)b];
	int c = strcmp(da->bank_trace_id, db->bank_trace_id);
	return c ? c : strcmp(da->deposit_id, db->deposit_id);
}

/* (account, currency, amount, value_day, deposit_id): the amount rule's key, then a total order. */
static int by_amount_cmp(const void *a, const void *b)
{
	const struct disburse_deposit *da = &sort_deposits[*(const size_t *)a];
	const struct disburse_deposit *db = &sort_deposits[*(const size_t *)b];
	int c = strcmp(da->account_id, db->account_id);
	if (!c)
		c = strcmp(da->currency, db->currency);
	if (!c)
		c = (da->amount_micros > db->amount_micros) - (da->amount_micros < db->amount_micros);
	if (!c)
		c = (da->value_day > db->value_day) - (da->value_day < db->value_day);
	return c ? c : strcmp(da->deposit_id, db->deposit_id);
}

/* First position in idx[0..n) whose deposit is not less than the probe, by cmp_probe. */
static size_t lower_bound(const size_t *idx, size_t n, const struct disburse_deposit *d,
			  int (*cmp_probe)(const struct disburse_deposit *, const void *), const void *probe)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_probe(&d[idx[mid]], probe) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int trace_probe_cmp(const struct disburse_deposit *d, const void *probe)
{
	return strcmp(d->bank_trace_id, (const char *)probe);
}

struct amount_probe {
	const char *account;
	const char *currency;
	int64_t amount_micros;
	int32_t day_from;
};

static int amount_probe_cmp(const struct disburse_deposit *d, const void *probe)
{
	const struct amount_probe *p = probe;
	int c = strcmp(d->account_id, p->account);
	if (!c)
		c = strcmp(d->currency, p->currency);
	if (!c)
		c = (d->amount_micros > p->amount_micros) - (d->amount_micros < p->amount_micros);
	if (!c)
		c = (d->value_day > p->day_from) - (d->value_day < p->day_from);
	return c;
}

static void match_by_trace(struct disburse_payout *payouts, size_t np, struct disburse_deposit *deposits,
			   const size_t *by_trace, size_t nt)
{
	for (size_t i = 0; i < np; i++) {
		struct disburse_payout *p = &payouts[i];
		if (!present(p->bank_trace_id))
			continue;
		for (size_t k = lower_bound(by_trace, nt, deposits, trace_probe_cmp, p->bank_trace_id);
		     k < nt && strcmp(deposits[by_trace[k]].bank_trace_id, p->bank_trace_id) == 0; k++) {
			struct disburse_deposit *d = &deposits[by_trace[k]];
			if (d->claimed)
				continue;
			d->claimed = 1;
			d->payout = i;
			p->deposit = by_trace[k];
			p->match = DISBURSE_MATCH_TRACE_ID;
			break;
		}
	}
}

static void match_by_amount(struct disburse_payout *payouts, size_t np, struct disburse_deposit *deposits,
			    const size_t *by_amount, size_t nd, int window_days)
{
	for (size_t i = 0; i < np; i++) {
		struct disburse_payout *p = &payouts[i];
		if (p->match != DISBURSE_MATCH_NONE || p->failed || (present(p->paid_currency) && !p->paid_amount_known))
			continue;
		/* SPEC §4.5: the deposit is in the paid currency, of the exact paid amount */
		struct amount_probe probe = { p->recipient_account_id, disburse_paid_currency(p), disburse_paid_amount(p),
					      p->day };
		size_t found = 0, which = 0;
		for (size_t k = lower_bound(by_amount, nd, deposits, amount_probe_cmp, &probe); k < nd; k++) {
			const struct disburse_deposit *d = &deposits[by_amount[k]];
			if (strcmp(d->account_id, probe.account) || strcmp(d->currency, probe.currency) ||
			    d->amount_micros != probe.amount_micros || d->value_day > p->day + window_days)
				break;
			if (d->claimed)
				continue;
			if (found++ == 0)
				which = by_amount[k];
		}
		p->candidates = found;
		if (found != 1)
			continue;
		deposits[which].claimed = 1;
		deposits[which].payout = i;
		p->deposit = which;
		p->match = DISBURSE_MATCH_AMOUNT_DATE;
	}
}

int disburse_match_deposits(struct disburse_payout *payouts, size_t np, struct disburse_deposit *deposits,
			    size_t nd, int window_days, struct err *e)
{
	ASSERT(window_days >= 0);
	size_t *by_trace = malloc((nd ? nd : 1) * sizeof *by_trace);
	size_t *by_amount = malloc((nd ? nd : 1) * sizeof *by_amount);
	if (!by_trace || !by_amount) {
		free(by_trace);
		free(by_amount);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	size_t nt = 0;
	for (size_t i = 0; i < np; i++) {
		payouts[i].match = DISBURSE_MATCH_NONE;
		payouts[i].candidates = 0;
	}
	for (size_t k = 0; k < nd; k++) {
		deposits[k].claimed = 0;
		by_amount[k] = k;
		if (present(deposits[k].bank_trace_id))
			by_trace[nt++] = k;
	}
	sort_deposits = deposits;
	qsort(by_trace, nt, sizeof *by_trace, by_trace_cmp);
	qsort(by_amount, nd, sizeof *by_amount, by_amount_cmp);
	match_by_trace(payouts, np, deposits, by_trace, nt);
	match_by_amount(payouts, np, deposits, by_amount, nd, window_days);
	free(by_trace);
	free(by_amount);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Failures
 */

static const struct disburse_payout *sort_payouts;

/* (recipient, currency, payout_id): a failure's candidates are one range of it. */
static int payout_key_cmp(const void *a, const void *b)
{
	const struct disburse_payout *pa = &sort_payouts[*(const size_t *)a];
	const struct disburse_payout *pb = &sort_payouts[*(const size_t *)b];
	int c = strcmp(pa->recipient_account_id, pb->recipient_account_id);
	if (!c)
		c = strcmp(pa->currency, pb->currency);
	return c ? c : strcmp(pa->payout_id, pb->payout_id);
}

/* First position in idx[0..n) whose payout is not less than (recipient, currency, id); id NULL
 * compares below every id (the start of the range). */
static size_t payout_lower_bound(const struct disburse_payout *payouts, const size_t *idx, size_t n,
				 const char *recipient, const char *currency, const char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct disburse_payout *p = &payouts[idx[mid]];
		int c = strcmp(p->recipient_account_id, recipient);
		if (!c)
			c = strcmp(p->currency, currency);
		if (!c)
			c = id ? strcmp(p->payout_id, id) : 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void link_set(struct disburse_payout *payouts, struct disburse_failure *failures, size_t f, size_t p,
		     enum disburse_link link)
{
	ASSERT(!payouts[p].failed && failures[f].link == DISBURSE_LINK_NONE);
	payouts[p].failed = 1;
	payouts[p].failure = f;
	failures[f].link = link;
	failures[f].payout = p;
}

/* Pass 1: the payout the parent names, of the same recipient and currency. Returns whether the
 * failure is decided (linked, or a duplicate of a payout already undone). */
static int link_parent(struct disburse_payout *payouts, const size_t *idx, size_t np,
		       struct disburse_failure *failures, size_t f)
{
	const struct disburse_failure *x = &failures[f];
	if (!present(x->parent_id))
		return 0;
	size_t k = payout_lower_bound(payouts, idx, np, x->recipient_account_id, x->currency, x->parent_id);
	if (k == np)
		return 0;
	const struct disburse_payout *p = &payouts[idx[k]];
	if (strcmp(p->recipient_account_id, x->recipient_account_id) || strcmp(p->currency, x->currency) ||
	    strcmp(p->payout_id, x->parent_id))
		return 0; /* names no payout of this recipient and currency: the other rules decide */
	if (!p->failed)
		link_set(payouts, failures, f, idx[k], DISBURSE_LINK_PARENT);
	return 1;
}

/* Passes 2 and 3: the latest payout (day, then the greater id) dated on or before the failure, not
 * undone yet, with its trace id (by_trace) or the amount it cancels. */
static void link_latest(struct disburse_payout *payouts, const size_t *idx, size_t np,
			struct disburse_failure *failures, size_t f, int by_trace)
{
	const struct disburse_failure *x = &failures[f];
	int64_t cancels;
	if (by_trace ? !present(x->bank_trace_id) : money_neg(x->amount_micros, &cancels) != MONEY_OK)
		return;
	size_t best = np;
	for (size_t k = payout_lower_bound(payouts, idx, np, x->recipient_account_id, x->currency, NULL); k < np; k++) {
		const struct disburse_payout *p = &payouts[idx[k]];
		if (strcmp(p->recipient_account_id, x->recipient_account_id) || strcmp(p->currency, x->currency))
			break;
		if (p->failed || p->day > x->day)
			continue;
		if (by_trace ? !present(p->bank_trace_id) || strcmp(p->bank_trace_id, x->bank_trace_id) != 0
			     : p->amount_micros != cancels)
			continue;
		const struct disburse_payout *b = best < np ? &payouts[idx[best]] : NULL;
		if (!b || p->day > b->day || (p->day == b->day && strcmp(p->payout_id, b->payout_id) > 0))
			best = k;
	}
	if (best < np)
		link_set(payouts, failures, f, idx[best], by_trace ? DISBURSE_LINK_TRACE_ID : DISBURSE_LINK_AMOUNT);
}

int disburse_link_failures(struct disburse_payout *payouts, size_t np, struct disburse_failure *failures,
			   size_t nf, struct err *e)
{
	size_t *idx = malloc((np ? np : 1) * sizeof *idx);
	unsigned char *decided = calloc(nf ? nf : 1, 1);
	if (!idx || !decided) {
		free(idx);
		free(decided);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	for (size_t k = 0; k < np; k++) {
		payouts[k].failed = 0;
		payouts[k].failure = 0;
		idx[k] = k;
	}
	for (size_t f = 0; f < nf; f++) {
		failures[f].link = DISBURSE_LINK_NONE;
		failures[f].payout = 0;
	}
	sort_payouts = payouts;
	qsort(idx, np, sizeof *idx, payout_key_cmp);
	/* SPEC §4.5: parent first, for every failure, so that an older failure linked by amount can
	 * never take the payout a later failure names explicitly. */
	for (size_t f = 0; f < nf; f++)
		decided[f] = (unsigned char)link_parent(payouts, idx, np, failures, f);
	for (int pass = 0; pass < 2; pass++)
		for (size_t f = 0; f < nf; f++)
			if (!decided[f] && failures[f].link == DISBURSE_LINK_NONE)
				link_latest(payouts, idx, np, failures, f, pass == 0);
	/* Postcondition: the links are one-to-one and stay within recipient and currency. */
	for (size_t f = 0; f < nf; f++) {
		if (failures[f].link == DISBURSE_LINK_NONE)
			continue;
		const struct disburse_payout *p = &payouts[failures[f].payout];
		ASSERT(p->failed && p->failure == f);
		ASSERT(strcmp(p->recipient_account_id, failures[f].recipient_account_id) == 0 &&
		       strcmp(p->currency, failures[f].currency) == 0);
	}
	free(idx);
	free(decided);
	return 0;
}

int disburse_lines_count(const struct disburse_payout *p, const struct disburse_failure *failures)
{
	return !p->failed || failures[p->failure].has_reversal_lines;
}

const char *disburse_link_name(enum disburse_link link)
{
	switch (link) {
	case DISBURSE_LINK_PARENT:
		return "PARENT";
	case DISBURSE_LINK_TRACE_ID:
		return "TRACE_ID";
	case DISBURSE_LINK_AMOUNT:
		return "AMOUNT";
	case DISBURSE_LINK_NONE:
		break;
	}
	return NULL;
}
