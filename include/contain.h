/* contain.h — one period's failure fails that period alone (SPEC §6, §7; docs/reconcile.md
 * "Containment").
 *
 * nightly computes its periods in one transaction with a savepoint per period (report_job's
 * period_errs): an error in one period — a failed balance assertion, an overflow of a group's
 * sums, a period that cannot be computed — rolls back that period only; the others are committed
 * and published, the failed one is named in the summary, recorded in settle.period_failure
 * (sql/013_retract.sql) and retried by every later nightly, which says "still failing since".
 *
 * What a savepoint cannot contain is the process dying (an ASSERT reached from data, a crash, a
 * kill). For that every nightly commits the periods it is about to compute (settle.period_attempt)
 * before it starts them and removes them with its outcome. The next nightly finds what a dead run
 * left: a period computed alone is recorded as crashed; a group's periods are each computed alone,
 * after the others are committed and published, so a period that kills the process can only ever
 * cost itself, from the second night on.
 */
#ifndef SETTLE_CONTAIN_H
#define SETTLE_CONTAIN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "err.h"

struct msg_sink;

struct contain_period {
	int32_t period;
	int alone;          /* computed in its own transaction, after the others */
	/* the failure streak before this run (from settle.period_failure) */
	int failing;        /* 1 when the period was failing */
	int crashed;        /* ... and its last attempt died */
	int failures;       /* nightlies in the streak */
	char since[32];     /* first failing as-of, "2026-12-01T02:00:00Z" */
	char reason[256];   /* the last reason recorded */
	/* this run */
	int failed;
	struct err err;
};

/* The periods nightly must compute besides those new files touch: the periods still failing and
 * those of the retractions not re-reported yet (sql/013). Appends them to *v (realloc'ed, *n
 * entries) and sets *retraction_through to the newest retraction id seen. */
int contain_periods(struct db *db, const struct config *cfg, int32_t **v, size_t *n,
		    int64_t *retraction_through, struct err *e);

/* Before computing: records the crashes a dead run left (its attempts), then fills each cp's
 * streak and alone flag, and warns on msg (msg.h) of each period to be computed alone. Commits. cp[i].period must be set; the rest is filled. */
int contain_prepare(struct db *db, struct contain_period *cp, size_t n, const struct msg_sink *msg,
		    struct err *e);

/* Commits the attempt rows of the periods about to be computed (alone: a single period) in place
 * of those of the periods computed before them, started at started_us (the command's database
 * clock, run_db_now_us, read just before: a crash record's first and last failure). */
int contain_attempt(struct db *db, const int32_t *periods, size_t n, int alone, int64_t started_us,
		    struct err *e);

/* After publishing: in one transaction, the streaks (a failed period's upserted, a computed one's
 * removed), the attempts removed, and the nightly watermarks moved (sql/004, sql/013). */
int contain_finish(struct db *db, int64_t as_of_us, const struct contain_period *cp, size_t n,
		   int64_t through_file_id, int64_t retraction_through, struct err *e);

/* Drops from periods[*n] the periods that cannot be computed (period_computable, timeutil.h:
 * 9999-12) when a run at as_of sees no rows of theirs any more (the file was retracted), and ends
 * their failure streaks (a warning on msg each). Such a period with rows still fails, named, in
 * the run. Autocommit. */
int contain_drop_uncomputable(struct db *db, int64_t as_of_us, int32_t *periods, size_t *n,
			      const struct msg_sink *msg, struct err *e);

/* After SIGINT/SIGTERM (signals.h) stopped the run: removes its attempts, so that the next
 * nightly does not take the interruption for a crash. Best effort. */
void contain_abandon(struct db *db);

#endif
