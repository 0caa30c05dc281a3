/* disburse.c — SPEC §4.5 and §4.8 (see disburse.h). */
#include "disburse.h"

#include <stdlib.h>
#include <string.h>

static int present(const char *s)
{
	return s && *s;
}

enum disburse_status disburse_status_of(int64_t remainder_micros, int64_t tol_micros, int something_disbursed,
					int last_payout_failed)
{
	ASSERT(tol_micros >= 0);
	if (last_payout_failed)
		return DISBURSE_FAILED;
	if (!something_disbursed)
		return DISBURSE_NOT_DISBURSED;
	if (remainder_micros < -tol_micros)
		return DISBURSE_OVER;
	if (remainder_micros > tol_micros)
		return DISBURSE_PARTIAL;
	return DISBURSE_DISBURSED;
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
	if (st != DISBURSE_PARTIAL && st != DISBURSE_NOT_DISBURSED && st != DISBURSE_FAILED)
		return 0;
	return remainder_micros > tol_micros || remainder_micros < -tol_micros;
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
		if (p->match != DISBURSE_MATCH_NONE || p->failed)
			continue;
		struct amount_probe probe = { p->recipient_account_id, p->currency, p->amount_micros, p->day };
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
