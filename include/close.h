/* close.h — closed periods and their restatements (SPEC §6.1, docs/reports.md "Closing a period").
 *
 * A close is a row of settle.period_close (sql/012_close.sql): period, as-of, who, the MANIFEST's
 * SHA-256, the run that wrote the closed set. The current close of a period is the one with the
 * latest as-of; earlier ones stay in the ledger, superseded.
 *
 * A restatement compares the figures of the close's run with those of a later run of the same
 * period (settle.period_measures: per currency billed to buyers, revenue, listing fee, seller tax,
 * net, net payable, disbursed, and the count of exceptions). Any difference makes the period "restated": report and
 * nightly then write it to OUT/P.restated/ with restatement.csv and a Restatement sheet, never into
 * OUT/P/. Aging moves with the as-of by definition and is not a figure that restates.
 */
#ifndef SETTLE_CLOSE_H
#define SETTLE_CLOSE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

#define CLOSE_MEASURES_MAX 288 /* 36 currencies of 8 measures */
#define CLOSE_RESTATED_SUFFIX ".restated"
#define CLOSE_RESTATEMENT_CSV "restatement.csv"
#define CLOSE_FACT_KEY "closed_as_of" /* the run.csv fact of a restated set: the close it restates */

struct close_measure {
	char currency[8];  /* "" for the exceptions without a currency */
	int ord;           /* 1..8, the order of settle.period_measures (sql/026_period_measures_billed.sql) */
	char measure[16];  /* "billed", "revenue", ..., "exceptions" */
	int64_t closed;    /* micros, or a count for "exceptions" */
	int64_t now;
};

struct close_view {
	int closed;              /* 1: the period has a close (the fields below are set) */
	int64_t close_id;
	int64_t close_run_id;
	int64_t close_as_of_us;
	char manifest_sha256[65];
	char closed_by[64];
	int differs;             /* after close_compare: some measure differs */
	size_t n;                /* after close_compare: rows by currency (byte order), ord */
	struct close_measure v[CLOSE_MEASURES_MAX];
};

/* The current close of period (cv->closed 0 when there is none). With as_of_us >= 0, the close
 * of period at exactly that as-of instead (cv->closed 0 when there is none). */
int close_find(struct db *db, int32_t period, int64_t as_of_us, struct close_view *cv, struct err *e);

/* Compares the close's figures with run_id's (both in the database; run_id may be uncommitted in
 * this transaction): fills cv->v, cv->n and cv->differs. cv->closed must be 1. */
int close_compare(struct db *db, int64_t run_id, int32_t period, struct close_view *cv, struct err *e);

/* Writes restatement.csv (period,currency,measure,closed,now,difference; every row of cv, money
 * in the currency's format) to path, which must not exist. */
int close_write_csv(const struct close_view *cv, const char *period, const char *path, struct err *e);

/* The nightly summary's words for a closed period, after "2026-10 ":
 *   "(closed 2026-11-05): restated: billed +1,000.00 USD, 1 more exception"
 *   "(closed 2026-11-05): as closed"
 * the measures that differ in cv's order, money signed with thousands grouped (a line for a
 * person, like the exception sentences; restatement.csv has the plain digits), the exceptions of
 * every currency as one count at the end; into buf (cap bytes, truncated with "..." when longer). */
void close_note(const struct close_view *cv, char *buf, size_t cap);

/* Records a close (in the caller's transaction). closed_by from $USER, else the OS user name. */
int close_record(struct db *db, int32_t period, int64_t as_of_us, const char *manifest_sha256,
		 int64_t run_id, const char *out_dir, struct err *e);

/* Makes a set directory and its files read-only (chmod a-w), files first, each fsync'ed. */
int close_seal_dir(const char *dir, struct err *e);

/* "2026-11-05T00:00:00Z" -> "20261105T000000Z" (the name of a superseded set). buf 32 bytes. */
void close_compact_time(int64_t us, char buf[32]);

#endif
