/* run.h — the frame every command shares (SPEC §6, §7, §8).
 *
 * Below the commands (cmd_*.c) and above the engines: the database opened and migrated on first
 * need (settle_db), the run lock (run_open_locked), the one database clock (run_db_now_us), the
 * run row (run_create), running a job -- reconcile, insights and the report set of each period in
 * one transaction (report_job_run) -- and the test failpoints (run_failpoint).
 */
#ifndef SETTLE_RUN_H
#define SETTLE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "reconcile.h"
#include "report_set.h"
#include "settle.h"

/* Opens the database (once), applies migrations, and returns it. */
int settle_db(struct settle_ctx *ctx, struct db **out, struct err *e);

/* settle_db, then the run lock (db_lock_run): the start of every command that writes. */
int run_open_locked(struct settle_ctx *ctx, struct db **out, struct err *e);

/* Each period's latest run with its exceptions, the open ones as `settle status` lists them:
 * columns period, run_id, open_n. Latest by as-of, then by run id: an auditor's rerun or verify
 * of an old set is a newer run at an older as-of, and the period's exceptions as known at that
 * as-of are not the ones open now. The one definition status and nightly count by. */
#define RUN_SQL_PERIODS_OPEN                                                                            \
	"SELECT p.period, p.run_id,"                                                                    \
	" (SELECT count(*) FROM settle.exception x WHERE x.run_id = p.run_id AND x.period = p.period)" \
	" AS open_n"                                                                                    \
	" FROM (SELECT DISTINCT ON (rp.period) rp.period, rp.run_id FROM settle.run_period rp"         \
	"       JOIN settle.run u USING (run_id)"                                                       \
	"       ORDER BY rp.period, u.as_of DESC, rp.run_id DESC) p"

/* The open exceptions (RUN_SQL_PERIODS_OPEN) of period ("YYYY-MM"), or summed over every period
 * when period is NULL. Returns 0, or -1 with e filled. */
int run_open_exceptions(struct db *db, const char *period, int64_t *n, struct err *e);

/* Inserts a settle.run row (command, as_of, config, version, schema version) and returns its id. */
int run_create(struct db *db, const char *command, int64_t as_of_us, const struct config *cfg,
	       int64_t *run_id, struct err *e);

struct report_job_result;

/* A run that reconciles and reports periods (report, rerun, verify, nightly, close). */
struct report_job {
	const char *command;        /* settle.run.command: "report", "nightly", "rerun", "verify" */
	const struct config *cfg;
	int64_t as_of_us;
	const int32_t *periods;
	size_t periods_n;
	const char *out_root;
	/* SPEC §6.1: what a close of a period means to this job (0 when not set). */
	enum report_close_mode {
		REPORT_CLOSE_IGNORE = 0, /* plain sets (close itself; rerun/verify of a plain set) */
		REPORT_CLOSE_RESPECT,    /* report, nightly: a closed period goes to P.restated */
		REPORT_CLOSE_AGAINST,    /* rerun/verify of a restated set: restate against the close
					  * at against_as_of_us, always written as P.restated */
	} close_mode;
	int64_t against_as_of_us;
	/* Called once every period is staged, before the commit, in the transaction (close records
	 * itself there); NULL when not needed. */
	int (*before_commit)(struct db *db, const struct report_job *job, struct report_stage *stages,
			     struct report_job_result *res, struct err *e);
	void *arg;
	/* NULL: any failure fails the run (report, rerun, verify). Else periods_n errors: a period
	 * whose computation fails is rolled back to a savepoint taken before it, its stage is
	 * discarded, its error lands in period_errs[i] (msg "" for the periods that succeeded) and
	 * the run goes on with the next period (nightly, docs/reconcile.md "Containment"). */
	struct err *period_errs;
	const struct msg_sink *msg; /* where the engines' lines go (msg.h); NULL: msg_log */
};

struct report_job_result {
	int64_t run_id;
	struct reconcile_summary total; /* summed over the periods; exceptions include the
					 * USAGE_ANOMALY rows of the insights (all of exceptions.csv) */
};

/* In one transaction: run_create, then per period reconcile_period, insights_compute (docs/
 * insights.md; stages[i].insights) and report_stage_write, then commit. A period that cannot be
 * computed (period_computable, timeutil.h) fails like any other error. stages[periods_n] are filled and left staged for the caller to publish (after the
 * commit, so a set in place always has its run committed) or to compare and discard (verify).
 * On failure the transaction is rolled back and every stage discarded. The caller holds the run
 * lock (db_lock_run). */
int report_job_run(struct db *db, const struct report_job *job, struct report_stage *stages,
		   struct report_job_result *res, struct err *e);

/* "Now": the database server's clock_timestamp(), in microseconds -- the one clock a default
 * as-of is read from (reconcile, report, nightly, close), and every other "now" of a command:
 * the instant of a retraction (retract), nightly's period attempts (contain_attempt), the offer
 * terms `settle status` shows (offer_terms_list). Read once by the command and passed down, so
 * no engine reads a clock of its own. It is the server's clock that stamps
 * ingest_file.ingested_at (now(), the ingest transaction's start, committed before), so a file
 * ingested just before is inside. clock_timestamp(), not now(): now() is frozen at the start of
 * the transaction, so it would depend on whether the caller has begun one; clock_timestamp() is
 * the same instant either way. */
int run_db_now_us(struct db *db, int64_t *out_us, struct err *e);

/* Test hook: when the environment variable SETTLE_FAILPOINT equals name, the process kills itself
 * with SIGKILL right there, as a crash or `kill -9` would (tests/integration/test_nightly_kill.sh).
 * Failpoints: "stage-written" (a set staged, before commit), "committed" (after commit, before
 * the first swap), "published-one" (after the first swap). "abort:YYYY-MM" instead calls abort()
 * when the run starts computing that period, as an ASSERT reached from its data would
 * (tests/integration/test_contain.sh); "pause:NAME" prints "settle: failpoint NAME: pausing" and
 * sleeps there up to 60 s, until a signal arrives (tests/integration/test_signals.sh). */
void run_failpoint(const char *name);

#endif
