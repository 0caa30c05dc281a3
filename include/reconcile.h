/* reconcile.h — SPEC §4: match, allocate, check, for one period at one as-of instant.
 *
 * A run is a row of settle.run; reconcile_period computes one period into the result tables
 * (003_results.sql) under that run_id. The caller owns the transaction: it begins, creates the
 * run, reconciles its periods, and commits, so a run's results appear whole or not at all.
 * Money arithmetic happens in C through money.h only; SQL groups, joins and sorts.
 */
#ifndef SETTLE_RECONCILE_H
#define SETTLE_RECONCILE_H

#include <stdint.h>

#include "config.h"
#include "db.h"
#include "err.h"

struct reconcile_summary {
	int64_t groups;
	int64_t allocated;
	int64_t exceptions;
	int64_t payouts;
};

struct msg_sink;

/* Computes `period` (year*12+month-1, timeutil.h) as of as_of_us into run run_id. Ends with the
 * balance assertions of the reconcile issue; a failed one is an error and commits nothing. The
 * name of each phase goes to msg as a progress line (msg.h; NULL: msg_log), ended at the end. */
int reconcile_period(struct db *db, const struct config *cfg, int64_t run_id, int32_t period,
		     int64_t as_of_us, const struct msg_sink *msg, struct reconcile_summary *out, struct err *e);

/* SPEC §4.5: the payouts dated in [first_day, end_day) (UTC day numbers) that a
 * DISBURSEMENT_FAILURE undoes, linked exactly as reconcile links them (disburse_link_failures over
 * every payout and failure of pg_temp.rc_be: by parent, else bank trace id, else the exact
 * amount, always within recipient and currency), into the temporary table
 * pg_temp.failed_payout (recipient, payout_id), replaced on every call and dropped at commit.
 * asof_current_events first, in the caller's transaction. */
int reconcile_failed_payouts(struct db *db, int32_t first_day, int32_t end_day, struct err *e);

#endif
