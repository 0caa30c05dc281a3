/* asof.h — the contract of pg_temp.rc_be, the current versions of the billing events at as-of
 * (SPEC §3.1), materialised once per transaction by asof_current_events (asof.c, rc_be_sql) and
 * read by reconcile's phases and by insights' SQL, which both call down into asof.c for it.
 *
 * Each column is a macro that names it. The CREATE writes every column under its macro, and a
 * reader names rc_be's columns through these macros (string-literal concatenation: "SELECT "
 * ASOF_BE_RECIPIENT ", " ...), so a column renamed here is renamed for every reader, and one
 * removed from here breaks its readers at compile time instead of at run time. A new column is
 * added here first, then to rc_be_sql (asof.c). Every reader uses the macros (reconcile*.c, and
 * insights.c's timing_sql).
 *
 * Issue 11 ("every file in its layer"): this is the as-of layer, below the engines. reconcile.c
 * (rc_tables) and insights.c (timing_compute) each call asof_current_events; neither makes the
 * table for the other, and asof.c calls nothing above the database layer
 * (tests/integration/test_layers.sh checks it on the build's objects).
 *
 * settle.rc_be_cache (sql/024_rc_be_cache.sql) keeps the rows of the last run for the next: its
 * columns are these, in this order; asof.c compares the two tables' columns at run time and
 * recomputes in full when they differ, so a column added here needs it there too (a migration).
 *
 * Days are UTC days since 1970-01-01 (int; sessions run with TimeZone=UTC); money is int64
 * micros. The full computation writes the table in ASOF_BE_ORDER (below; reconcile's
 * RC_GROUP_ORDER): gh, then the reference; the incremental one makes rc_be a temporary view of
 * settle.rc_be_cache, in no order (asof_events_sorted says which).
 */
#ifndef SETTLE_ASOF_H
#define SETTLE_ASOF_H

#include <stdint.h>

#include "db.h"
#include "err.h"

#define ASOF_BE_GH            "gh"            /* bigint: hash of (recipient, tref, currency) */
#define ASOF_BE_RECIPIENT     "recipient"     /* the recipient's account identity (SPEC §1) */
#define ASOF_BE_ID            "beid"          /* billing_event_id */
#define ASOF_BE_TREF          "tref"          /* transaction_reference_id, a DISBURSED line's from
					       * its parent (SPEC §3.1), '' when none */
#define ASOF_BE_CURRENCY      "currency"
#define ASOF_BE_ACTION        "action"        /* INVOICED, FORGIVEN, DISBURSED, COLLECTED */
#define ASOF_BE_TYPE          "ttype"         /* transaction_type */
#define ASOF_BE_SIDE          "side"          /* charge_side */
#define ASOF_BE_AMOUNT        "amount"        /* amount, micros */
#define ASOF_BE_DAY           "day"           /* invoice_date, day number */
#define ASOF_BE_USAGE_DAY     "usage_day"     /* usage_period_start_date, day number */
#define ASOF_BE_AGREEMENT     "agreement"     /* agreement_id */
#define ASOF_BE_OFFER         "offer"         /* offer_id */
#define ASOF_BE_PRODUCT       "product"       /* product_id */
#define ASOF_BE_FROM          "from_acct"     /* from_account_id's identity */
#define ASOF_BE_DISB_ID       "disb_id"       /* disbursement_billing_event_id */
#define ASOF_BE_PARENT_ID     "parent_id"     /* parent_billing_event_id */
#define ASOF_BE_TRACE         "trace"         /* bank_trace_id, a placeholder as NULL */
#define ASOF_BE_ACTION_DAY    "action_day"    /* action_date, day number */
#define ASOF_BE_LINE_ITEM     "line_item"     /* line_item_id */
#define ASOF_BE_INVOICE       "invoice"       /* invoice_id */
#define ASOF_BE_PAID_AMOUNT   "paid_amount"   /* disbursement_amount, micros (SPEC §4.5) */
#define ASOF_BE_PAID_CURRENCY "paid_currency" /* disbursement_currency (SPEC §4.5) */

/* The order rc_be is written in, the order of reconcile's charge-group stream (reconcile_groups.c):
 * each reference's rows together, by day. gh, a 64-bit hash of the reference stored in rc_be,
 * first makes most comparisons one integer compare; the reference itself, in byte order, breaks
 * the rare ties, so references never mix and the stream can check its own order (rc_groups_run). */
#define ASOF_BE_ORDER \
	ASOF_BE_GH ", " ASOF_BE_RECIPIENT " COLLATE \"C\", " ASOF_BE_TREF " COLLATE \"C\", " ASOF_BE_CURRENCY \
	" COLLATE \"C\", " ASOF_BE_DAY

/* Makes sure the temporary table pg_temp.rc_be holds the current versions of the billing events
 * at as_of_us (INVOICED, FORGIVEN, DISBURSED, COLLECTED and payout failures; the columns above,
 * in ASOF_BE_ORDER), reusing it when this transaction already built it for the same instant
 * (*reused = 1; reused may be NULL). Also sets the transaction's planner settings
 * (db_batch_settings). Must run inside the caller's transaction; the table goes with it.
 * SETTLE_RECONCILE_TIMING=1 prints the parts ("reconcile - current versions: ..."), and
 * SETTLE_RECONCILE_FULL=1 makes it ignore settle.rc_be_cache. */
int asof_current_events(struct db *db, int64_t as_of_us, int *reused, struct err *e);

/* Whether pg_temp.rc_be is stored in ASOF_BE_ORDER, so that a plain scan returns that order
 * (*sorted = 1: the full computation's temporary table), or is the view of settle.rc_be_cache
 * that the incremental path makes (*sorted = 0: a reader that needs the order sorts). After
 * asof_current_events, in the same transaction. */
int asof_events_sorted(struct db *db, int *sorted, struct err *e);

#endif
