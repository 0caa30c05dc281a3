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
	DISBURSE_DISBURSED = 0, /* |remainder| ≤ tol and a line row touches it */
	DISBURSE_PARTIAL,       /* remainder > tol, a line row touches it */
	DISBURSE_OVER,          /* remainder < −tol */
	DISBURSE_NOT_DISBURSED, /* no line row touches it */
	DISBURSE_FAILED,        /* remainder > tol and its latest payout or failure is a failure */
};

/* SPEC §4.5, the first that applies: FAILED (remainder > tol and the latest payout or failure
 * touching the reference is a failure or a failed payout), OVER (remainder < −tol), NOT_DISBURSED
 * (no line row touches it), DISBURSED (|remainder| ≤ tol), PARTIAL (remainder > tol). */
enum disburse_status disburse_status_of(int64_t remainder_micros, int64_t tol_micros, int any_line,
					int latest_is_failure);
const char *disburse_status_name(enum disburse_status st);

/* SPEC §3.1: EMEA_MP_TEST_TRACE_ID and testTraceId are placeholders that count as no trace id. */
int disburse_trace_is_placeholder(const char *bank_trace_id);

/* SPEC §4.8: a group is aged when its reference is not fully disbursed (PARTIAL, NOT_DISBURSED,
 * FAILED) with a remainder above tol: a charge netted to zero by its own reversal is owed by
 * nobody. OVER is an overpayment, not a receivable: it is not aged. */
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
	/* SPEC §4.5: the currency and amount it is paid in (disbursement_currency/_amount) when that
	 * currency is not its pricing currency; NULL: paid as priced. A deposit is expected in this. */
	const char *paid_currency;
	int64_t paid_amount_micros;
	int paid_amount_known;     /* paid_currency set: the payout carries disbursement_amount */
	/* the caller's, for its paid-currency check: Σ of its lines' disbursement_amount in
	 * paid_currency and how many of its lines carry one */
	int64_t paid_lines_micros;
	int64_t paid_lines_n;
	/* the caller's: its lines that settle no known charge — no transaction_reference_id and no
	 * parent event that has one (SPEC §3.1) — how many and their Σ (PAYOUT_MISMATCH, SPEC §4.5) */
	int64_t unjoined_lines_n;
	int64_t unjoined_lines_micros;
	int failed;                /* a DISBURSEMENT_FAILURE undoes it (disburse_link_failures) */
	size_t failure;            /* index into failures when failed */
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

/* The currency and amount a payout is paid in: paid_currency/paid_amount_micros when set, else its
 * pricing currency and amount. */
const char *disburse_paid_currency(const struct disburse_payout *p);
int64_t disburse_paid_amount(const struct disburse_payout *p);

/* Matches every payout to at most one deposit and every deposit to at most one payout, in a total
 * order that does not depend on the period being computed:
 *   1. payouts in array order (the caller sorts them by day, recipient, payout_id) with a bank trace
 *      id take the unclaimed deposit with that trace id (the smallest deposit_id if several);
 *   2. then payouts still unmatched and not failed take the single unclaimed deposit of their
 *      account (= recipient), paid currency and exact paid amount with value date in [day, day + window_days]
 *      (a payout paid in another currency whose paid amount is unknown takes none);
 *      when several fit, none is taken (an accountant decides, settle does not guess).
 * Deposits may come in any order. */
int disburse_match_deposits(struct disburse_payout *payouts, size_t np, struct disburse_deposit *deposits,
			    size_t nd, int window_days, struct err *e);

/* ---------------------------------------------------------------------------------------------
 * Failures (SPEC §4.5)
 */

enum disburse_link {
	DISBURSE_LINK_NONE = 0,  /* undoes no payout: DISBURSEMENT_FAILED with the failure's reference */
	DISBURSE_LINK_PARENT,    /* parent_billing_event_id names the payout */
	DISBURSE_LINK_TRACE_ID,  /* same bank trace id */
	DISBURSE_LINK_AMOUNT,    /* the latest payout on or before it whose amount it cancels exactly */
};

struct disburse_failure {
	const char *recipient_account_id;
	const char *failure_id;
	const char *currency;
	const char *parent_id;     /* NULL or "" when none */
	const char *bank_trace_id; /* NULL or "" when none (placeholders already removed) */
	int32_t day;
	int64_t amount_micros;     /* F.amount: −D.amount when it cancels D */
	int has_reversal_lines;    /* DISBURSED line rows name it (current feeds) */
	/* the caller's: its reversal lines that settle no known charge — no transaction_reference_id
	 * and no parent event that has one (SPEC §3.1) — how many and their Σ (PAYOUT_MISMATCH with
	 * reference F, docs/reconcile.md) */
	int64_t unjoined_lines_n;
	int64_t unjoined_lines_micros;
	/* results */
	enum disburse_link link;
	size_t payout;             /* index into payouts when linked */
};

/* Links every failure to at most one payout of the same recipient and currency, and every payout
 * to at most one failure, in three passes over the failures in array order (the caller sorts them
 * by day, recipient, failure_id):
 *   1. parent: the payout its parent_billing_event_id names; a failure whose parent names a payout
 *      that an earlier failure already undoes undoes nothing (a duplicate, never counted twice);
 *   2. then failures without a usable parent: the latest payout (day, then the greater payout_id)
 *      dated on or before the failure with its bank trace id that no failure undoes yet;
 *   3. then the rest: the latest such payout whose amount the failure cancels exactly
 *      (F.amount = −D.amount).
 * Sets payouts[].failed / .failure and failures[].link / .payout; both arrays are the caller's. */
int disburse_link_failures(struct disburse_payout *payouts, size_t np, struct disburse_failure *failures,
			   size_t nf, struct err *e);

/* SPEC §4.5: a failed payout's lines count as disbursed only when its failure gives them back by
 * reversal lines of its own (then both count and net out); without reversal lines the failure alone
 * says they were not paid. Lines of a payout that did not fail always count. */
int disburse_lines_count(const struct disburse_payout *p, const struct disburse_failure *failures);

const char *disburse_link_name(enum disburse_link link);

#endif
