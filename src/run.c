/* run.c — the frame every command shares (see run.h). */
#include "run.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "close.h"
#include "insights.h"
#include "msg.h"
#include "reconcile_io.h"
#include "report_listing.h"
#include "timeutil.h"

int run_open_locked(struct settle_ctx *ctx, struct db **out, struct err *e)
{
	return settle_db(ctx, out, e) < 0 || db_lock_run(*out, e) < 0 ? -1 : 0;
}

int settle_db(struct settle_ctx *ctx, struct db **out, struct err *e)
{
	if (!ctx->db) {
		struct db *db = NULL;
		if (db_open_ex(ctx->db_conninfo, ctx->open_existing, &db, e) < 0)
			return -1;
		if (db_migrate(db, e) < 0) {
			db_close(db);
			return -1;
		}
		ctx->db = db; /* owned by the context from here on; main closes it */
	}
	*out = ctx->db;
	return 0;
}

struct config_text {
	char buf[4096];
	size_t len;
};

static void config_line(const char *key, const char *value, void *arg)
{
	struct config_text *t = arg;
	int n = snprintf(t->buf + t->len, sizeof t->buf - t->len, "%s=%s\n", key, value);
	if (n > 0)
		t->len += (size_t)n < sizeof t->buf - t->len ? (size_t)n : sizeof t->buf - t->len - 1;
}

int run_create(struct db *db, const char *command, int64_t as_of_us, const struct config *cfg, int64_t *run_id,
	       struct err *e)
{
	struct config_text t = { .len = 0 };
	t.buf[0] = '\0';
	config_each(cfg, config_line, &t);
	int version = db_schema_version(db, e);
	if (version < 0)
		return -1;
	char as_of[40], ver[16];
	time_format_pg(as_of_us, as_of);
	snprintf(ver, sizeof ver, "%d", version);
	const char *params[] = { command, as_of, SETTLE_VERSION, ver, t.buf };
	PGresult *res = db_query(db,
				 "INSERT INTO settle.run (command, as_of, started_at, settle_version, schema_version, config)"
				 " VALUES ($1, $2::timestamptz, clock_timestamp(), $3, $4::int, $5) RETURNING run_id",
				 5, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rc = rio_i64(PQgetvalue(res, 0, 0), run_id);
	PQclear(res);
	if (rc < 0)
		return err_set(e, EXIT_FAILED, "database: run_id is not an integer");
	return 0;
}

void run_failpoint(const char *name)
{
	const char *fp = getenv("SETTLE_FAILPOINT");
	if (fp && strcmp(fp, name) == 0)
		raise(SIGKILL);
	if (fp && strncmp(fp, "pause:", 6) == 0 && strcmp(fp + 6, name) == 0) {
		fprintf(stderr, "settle: failpoint %s: pausing\n", name);
		sleep(60); /* a signal handler ends it early (test_signals.sh) */
	}
}

/* SPEC §6.1: a closed period is written beside its closed set, as P.restated, when its figures
 * differ from the close's; as closed, nothing is written. Returns 1 when the caller stages the
 * set (in->restated says how), 0 when nothing is to be staged, -1 on error. cv is filled. */
static int report_job_close(struct db *db, const struct report_job *job, int64_t run_id, int32_t period,
			    struct close_view *cv, struct report_set_input *in, struct err *e)
{
	memset(cv, 0, sizeof *cv);
	in->restated = NULL;
	if (job->close_mode == REPORT_CLOSE_IGNORE)
		return 1;
	int64_t at = job->close_mode == REPORT_CLOSE_AGAINST ? job->against_as_of_us : -1;
	if (close_find(db, period, at, cv, e) < 0)
		return -1;
	if (!cv->closed) {
		if (job->close_mode == REPORT_CLOSE_RESPECT)
			return 1;
		char t[32];
		time_format(at, t);
		return err_set(e, EXIT_FAILED, "the close as of %s that this set restates is not in the database", t);
	}
	if (close_compare(db, run_id, period, cv, e) < 0)
		return -1;
	if (!cv->differs && job->close_mode == REPORT_CLOSE_RESPECT)
		return 0;
	in->restated = cv;
	return 1;
}

/* A closed period as closed: a stage with nothing staged that removes a stale P.restated. */
static void report_stage_none(struct report_stage *st, const struct report_job *job, int32_t period,
			      int remove_stale)
{
	memset(st, 0, sizeof *st);
	st->msg = job->msg;
	period_format(period, st->period);
	snprintf(st->target, sizeof st->target, "%s", st->period);
	snprintf(st->root, sizeof st->root, "%s", job->out_root);
	st->drop_restated = 1;
	st->remove_stale = remove_stale;
}

/* One period of a run: reconcile, insights, stage (or, for a closed period as closed, a stage
 * with nothing staged). res->total counts it only when everything succeeds, so a period
 * contained by report_job_run adds nothing. */
static int report_job_period(struct db *db, const struct report_job *job, int32_t period,
			     struct close_view *cv, struct report_stage *st, struct report_job_result *res,
			     struct err *e)
{
	char p[8];
	period_format(period, p);
	if (!period_computable(period))
		return err_set(e, EXIT_FAILED, "%s: cannot be computed: its end lies after year 9999", p);
	char fp[24];
	snprintf(fp, sizeof fp, "abort:%s", p);
	if (getenv("SETTLE_FAILPOINT") && strcmp(getenv("SETTLE_FAILPOINT"), fp) == 0)
		abort(); /* test hook: an ASSERT reached from this period's data */
	struct reconcile_summary sum = { 0 };
	msg_say(job->msg, MSG_PROGRESS, "%s: reconciling", p);
	if (reconcile_period(db, job->cfg, res->run_id, period, job->as_of_us, job->msg, &sum, e) < 0)
		return err_prefix(e, "%s", p);
	/* Issue 6: the insights of the period, in the same transaction and under the same run, so
	 * the set's insight files and USAGE_ANOMALY exceptions come from the same as-of. */
	struct insights_summary ins;
	msg_say(job->msg, MSG_PROGRESS, "%s: computing insights", p);
	if (insights_compute(db, job->cfg, res->run_id, period, job->as_of_us, &ins, e) < 0)
		return err_prefix(e, "%s", p);
	struct report_set_input in = { res->run_id, period, job->as_of_us, job->cfg, NULL, job->msg };
	int write = report_job_close(db, job, res->run_id, period, cv, &in, e);
	if (write < 0)
		return err_prefix(e, "%s", p);
	if (!write) /* a stale P.restated is nightly's to remove: it runs at now, report may not */
		report_stage_none(st, job, period, strcmp(job->command, "nightly") == 0);
	else if (report_stage_write(db, &in, job->out_root, st, e) < 0)
		return err_prefix(e, "%s", p);
	st->insights = ins; /* report_stage_write cleared the stage */
	if (cv->closed)
		close_note(cv, st->note, sizeof st->note);
	res->total.groups += sum.groups;
	res->total.allocated += sum.allocated;
	res->total.exceptions += sum.exceptions + ins.usage_anomalies;
	res->total.payouts += sum.payouts;
	return 0;
}

int report_job_run(struct db *db, const struct report_job *job, struct report_stage *stages,
		   struct report_job_result *res, struct err *e)
{
	memset(res, 0, sizeof *res);
	for (size_t i = 0; i < job->periods_n; i++) {
		stages[i].tmp[0] = '\0';
		if (job->period_errs)
			memset(&job->period_errs[i], 0, sizeof job->period_errs[i]);
	}
	struct close_view *cv = malloc(sizeof *cv);
	if (!cv)
		return err_set(e, EXIT_FAILED, "out of memory");
	if (db_begin(db, e) < 0) {
		free(cv);
		return -1;
	}
	if (run_create(db, job->command, job->as_of_us, job->cfg, &res->run_id, e) < 0)
		goto fail;
	for (size_t i = 0; i < job->periods_n; i++) {
		if (!job->period_errs) {
			if (report_job_period(db, job, job->periods[i], cv, &stages[i], res, e) < 0)
				goto fail;
			continue;
		}
		/* Containment: the period's rows, temporary tables and stage go; the run goes on. A
		 * failure to roll back (the connection is gone) fails the whole run. */
		if (db_exec(db, "SAVEPOINT report_period", e) < 0)
			goto fail;
		struct err *pe = &job->period_errs[i];
		if (report_job_period(db, job, job->periods[i], cv, &stages[i], res, pe) == 0) {
			if (db_exec(db, "RELEASE SAVEPOINT report_period", e) < 0)
				goto fail;
			continue;
		}
		if (!pe->msg[0])
			err_set(pe, EXIT_FAILED, "failed without a message");
		report_stage_discard(&stages[i]);
		if (db_exec(db, "ROLLBACK TO SAVEPOINT report_period", e) < 0 ||
		    db_exec(db, "RELEASE SAVEPOINT report_period", e) < 0) {
			err_prefix(e, "after %s", pe->msg);
			goto fail;
		}
	}
	if (job->before_commit && job->before_commit(db, job, stages, res, e) < 0)
		goto fail;
	run_failpoint("stage-written");
	if (db_commit(db, e) < 0)
		goto fail;
	msg_progress_end(job->msg);
	free(cv);
	return 0;
fail:
	free(cv);
	msg_progress_end(job->msg);
	db_rollback(db);
	for (size_t i = 0; i < job->periods_n; i++)
		report_stage_discard(&stages[i]);
	return -1;
}

int run_open_exceptions(struct db *db, const char *period, int64_t *n, struct err *e)
{
	const char *params[] = { period };
	PGresult *res = db_query(db, "SELECT coalesce(sum(open_n), 0)::bigint FROM (" RUN_SQL_PERIODS_OPEN ") s"
				     " WHERE $1::text IS NULL OR s.period = $1::text",
				 1, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rc = report_parse_micros(PQgetvalue(res, 0, 0), n, e); /* a bigint's text, as the clock's */
	PQclear(res);
	return rc;
}

int run_db_now_us(struct db *db, int64_t *out_us, struct err *e)
{
	PGresult *res = db_query(db, "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint", 0,
				 NULL, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rc = report_parse_micros(PQgetvalue(res, 0, 0), out_us, e);
	PQclear(res);
	return rc;
}
