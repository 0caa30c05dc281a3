/* disburse.h — SPEC §4.5 (disbursement status of a reference, payouts against their bank
 * deposits) and §4.8 (aging buckets). Pure functions over values and arrays in memory; the
 * decisions SPEC leaves open are written down in docs/reconcile.md and next to the code.
 *
 * Ownership: the arrays and strings are the caller's; disburse_match_deposits only writes the
 * result fields of the structs it is given.
 */
#ifndef SETTLE_DISBURSE_H
#define SETTLE_DISBURSE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum disburse_status {
	DISBURSE_DISBURSED = 0, /* |remainder| ≤ tol and something disbursed */
	DISBURSE_PARTIAL,       /* remainder > tol, something disbursed */
	DISBURSE_OVER,          /* remainder < −tol, something disbursed */
	DISBURSE_NOT_DISBURSED, /* nothing disbursed */
	DISBURSE_FAILED,        /* the reference's last payout failed */
};

/* SPEC §4.5. Precedence: FAILED, then NOT_DISBURSED, then OVER / PARTIAL / DISBURSED by remainder. */
enum disburse_status disburse_status_of(int64_t remainder_micros, int64_t tol_micros, int something_disbursed,
					int last_payout_failed);
const char *disburse_status_name(enum disburse_status st);

/* SPEC §4.8: a group is aged when its reference is not fully disbursed (PARTIAL, NOT_DISBURSED,
 * FAILED) and something is outstanding (|remainder| > tol): a charge netted to zero by its own
 * reversal is owed by nobody. OVER is an overpayment, not a receivable: it is not aged. */
int disburse_is_aged(enum disburse_status st, int64_t remainder_micros, int64_t tol_micros);
/* "0-30", "31-60", "61-90", "91-120", "over 120" (days ≤ 30 — including a future invoice date — is
 * "0-30"). */
const char *disburse_aging_bucket(int64_t days);

/* ---------------------------------------------------------------------------------------------
 * Payouts and deposits (SPEC §4.5)
 */

enum disburse_match { DISBURSE_MATCH_NONE = 0, DISBURSE_MATCH_TRACE_ID, DISBURSE_MATCH_AMOUNT_DATE };

struct disburse_payout {
	const char *recipient_account_id;
	const char *payout_id;
	const char *currency;
	const char *bank_trace_id; /* NULL or "" when none */
	int32_t day;               /* payout date (UTC day) */
	int64_t amount_micros;
	int failed;                /* a DISBURSEMENT_FAILURE names it as parent */
	/* results */
	size_t deposit;            /* index into deposits when matched */
	enum disburse_match match;
	size_t candidates;         /* AMOUNT_DATE: unclaimed deposits that fit (≥ 2: ambiguous, none taken) */
};

struct disburse_deposit {
	const char *deposit_id;
	const char *account_id;
	const char *currency;
	const char *bank_trace_id; /* NULL or "" when none */
	int32_t value_day;
	int64_t amount_micros;
	/* result */
	int claimed;
	size_t payout;             /* index into payouts when claimed */
};

/* Matches every payout to at most one deposit and every deposit to at most one payout, in a total
 * order that does not depend on the period being computed:
 *   1. payouts in array order (the caller sorts them by day, recipient, payout_id) with a bank trace
 *      id take the unclaimed deposit with that trace id (the smallest deposit_id if several);
 *   2. then payouts still unmatched and not failed take the single unclaimed deposit of their
 *      account (= recipient), currency and exact amount with value date in [day, day + window_days];
 *      when several fit, none is taken (an accountant decides, settle does not guess).
 * Deposits may come in any order. */
int disburse_match_deposits(struct disburse_payout *payouts, size_t np, struct disburse_deposit *deposits,
			    size_t nd, int window_days, struct err *e);

#endif
