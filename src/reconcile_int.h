/* reconcile_int.h — what the phases of reconcile_period share (src/reconcile*.c only).
 *
 * reconcile_period (reconcile.c) runs the phases in order on one struct rc:
 *   rc_offers_load      offers and usage prices current at as-of, and the match index
 *   rc_payouts_load     every payout, failure and payout line, every deposit; failures linked to
 *                       their payouts, deposits matched (SPEC §4.5)
 *   rc_groups_run       charge groups of the period: match, allocate, check, status, aging (§4.1–4.5, 4.8)
 *   rc_payouts_run      the period's payouts: lines, mismatch, failure, deposit checks (§4.5)
 *   rc_usage_run        metering against billing for the usage month = period (§4.6)
 *   rc_tax_run          the period's tax events against the tax item feed (§4.6)
 *   rc_statements_run   payout statements (§4.4)
 *   rc_flush            every collected row to its table by COPY
 *   rc_assert           the balance assertions, on the stored rows
 * Rows to store are written to rio_out temporary files while the input streams; nothing is sent
 * before every stream has been read (one connection, one COPY at a time). The phases add to
 * the shared state through reconcile_state.c (rc_exception_add, rc_statement_add, rc_tolerance,
 * ...), the file below them all: no phase calls back into reconcile.c.
 */
#ifndef SETTLE_RECONCILE_INT_H
#define SETTLE_RECONCILE_INT_H

#include <stdint.h>

#include "alloc.h"
#include "config.h"
#include "db.h"
#include "disburse.h"
#include "err.h"
#include "match.h"
#include "asof.h"
#include "reconcile.h"
#include "pgcopy.h"
#include "reconcile_io.h"
#include "usage_prices.h"

/* The order of the charge-group stream (reconcile_groups.c): the order pg_temp.rc_be is written
 * in (asof.h), each reference's rows together, by day. */
#define RC_GROUP_ORDER ASOF_BE_ORDER

/* Per offer, what the charge groups billed for the usage month (SPEC §4.6). */
struct rc_billed {
	int64_t billed_micros;
	int64_t rows;
};

/* The sums of a payout statement (SPEC §4.4). */
struct rc_sums {
	int64_t revenue_micros, listing_fee_micros, seller_tax_micros, net_micros;
	int64_t parts;
};

/* One payout statement being summed (SPEC §4.4): the party's allocations of groups it received
 * itself (own) apart from those of groups another recipient received (via, e.g. an ISV's
 * wholesale in its reseller's feed), which count only when the party has no feed of its own. */
struct rc_statement {
	const char *account;  /* borrowed from the offers' PGresult */
	enum alloc_role role;
	const char *currency; /* borrowed from the offers' PGresult */
	struct rc_sums own, via;
};

struct rc {
	struct db *db;
	const struct config *cfg;
	int64_t run_id;
	int32_t period;
	char period_text[8];
	int64_t as_of_us;
	int32_t as_of_day;
	int32_t period_first_day, period_end_day; /* [first, end) in days */
	int be_shared; /* rc_be was built by an earlier period of this transaction (nightly) */

	/* offers (rc_offers_load) */
	PGresult *offers_res;
	struct match_offer *offers;
	size_t offers_n;
	struct match_index *index;
	struct rc_billed *billed;      /* offers_n entries */
	size_t *offer_head;            /* rc_usage_run: per offer row, the first row of its offer_id */
	unsigned char *offer_reported; /* offers_n entries: its OFFER_ problem is in this period's exceptions */
	/* usage prices (usage_prices.h): dims by rc_offers_load, days of the period by rc_usage_run */
	struct usage_prices prices;

	/* payouts and deposits (rc_payouts_load) */
	PGresult *payouts_res;
	struct disburse_payout *payouts;
	size_t payouts_n;
	int *payout_in_period;
	int64_t *payout_lines_micros;   /* Σ of its lines (payouts of the period only) */
	int64_t *payout_lines_n;
	size_t *payout_slots;           /* hash of (recipient, payout_id) -> payout index + 1 */
	size_t payout_slots_mask;
	PGresult *failures_res;
	struct disburse_failure *failures; /* by day, recipient, failure_id */
	size_t failures_n;
	int *failure_in_period;
	int64_t *failure_lines_micros;  /* Σ of its reversal lines */
	int64_t *failure_lines_n;
	size_t *failure_by_id;          /* failure indexes sorted by (recipient, failure_id) */
	PGresult *deposits_res;
	struct disburse_deposit *deposits;
	size_t deposits_n;
	int *deposit_in_period;

	/* payout statements (rc_groups_run → rc_statements_run) */
	struct rio_map statement_map;
	struct rc_statement *statements;
	size_t statements_n, statements_cap;

	/* output rows */
	struct rio_out out_group, out_alloc, out_stmt, out_exc, out_disb, out_aging, out_meter;

	struct reconcile_summary summary;
};

/* An exception row (SPEC §4.7). Absent amounts are NULL in the table ("not applicable"). */
struct rc_exception {
	const char *code;
	const char *reference;
	const char *recipient_account_id;
	const char *agreement_id;
	const char *offer_id;
	const char *currency;
	int has_expected, has_actual;
	int64_t expected_micros, actual_micros; /* difference = actual − expected when both are set */
	const char *detail;
};

/* Queues an exception for the staging table (seq is assigned in SQL, rc_flush). */
int rc_exception_add(struct rc *rc, const struct rc_exception *x, struct err *e);

/* Minor units / tolerance of a currency; an unknown code is an error (ingest rejects it). */
int rc_minor_units(const char *currency, int *out, struct err *e);
int rc_tolerance(const struct rc *rc, const char *currency, int64_t *out, struct err *e);

/* Adds one allocated part to its payout statement; via: the group's recipient is another account. */
int rc_statement_add(struct rc *rc, const char *account, enum alloc_role role, const char *currency, int via,
		     const struct alloc_part *part, struct err *e);

int rc_offers_load(struct rc *rc, struct err *e);
int rc_payouts_load(struct rc *rc, struct err *e);
int rc_groups_run(struct rc *rc, struct err *e);
int rc_payouts_run(struct rc *rc, struct err *e);
int rc_usage_run(struct rc *rc, struct err *e);
int rc_tax_run(struct rc *rc, struct err *e);
int rc_statements_run(struct rc *rc, struct err *e);

/* The payout (recipient, billing_event_id) among rc->payouts: 0 and its index, or -1. */
int rc_payout_find(const struct rc *rc, const char *recipient, const char *payout_id, size_t *out);
/* The DISBURSEMENT_FAILURE (recipient, billing_event_id) among rc->failures: 0 and its index, or -1. */
int rc_failure_find(const struct rc *rc, const char *recipient, const char *failure_id, size_t *out);

/* NULL for "" — ids are stored as NULL when absent. */
const char *rc_nullif(const char *s);

#endif
