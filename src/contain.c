/* contain.c — per-period failure records of nightly (see contain.h, sql/013_retract.sql). */
#include "contain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "timeutil.h"

/* Failing periods and the periods of retractions after the watermark (periods_touched over the
 * retracted file alone). */
static const char contain_periods_sql[] =
	"SELECT f.period, NULL::bigint FROM settle.period_failure f"
	" UNION ALL"
	" SELECT p.p, r.retraction_id FROM settle.retraction r CROSS JOIN settle.nightly_state s"
	" LEFT JOIN LATERAL settle.periods_touched(r.file_id - 1, r.file_id, $1::integer) p(p) ON true"
	" WHERE r.retraction_id > s.reported_through_retraction_id";

int contain_periods(struct db *db, const struct config *cfg, int32_t **v, size_t *n,
		    int64_t *retraction_through, struct err *e)
{
	char window[16];
	snprintf(window, sizeof window, "%d", cfg->deposit_window_days);
	const char *params[] = { window };
	PGresult *res = db_query(db, contain_periods_sql, 1, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rows = PQntuples(res);
	int32_t *nv = realloc(*v, (*n + (size_t)rows + 1) * sizeof *nv);
	if (!nv) {
		PQclear(res);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	*v = nv;
	for (int i = 0; i < rows; i++) {
		if (!PQgetisnull(res, i, 1)) {
			int64_t id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
			if (id > *retraction_through)
				*retraction_through = id;
		}
		const char *p = PQgetvalue(res, i, 0);
		if (!PQgetisnull(res, i, 0) && period_parse(p, strlen(p), &nv[*n]) == 0)
			(*n)++;
	}
	PQclear(res);
	return 0;
}

static int contain_find(const struct contain_period *cp, size_t n, const char *period)
{
	int32_t p;
	if (period_parse(period, strlen(period), &p) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (cp[i].period == p)
			return (int)i;
	return -1;
}

/* A dead run's attempts: alone ones become crash records, the rest make their periods suspects. */
static int contain_take_attempts(struct db *db, struct contain_period *cp, size_t n, struct err *e)
{
	PGresult *res = db_query(db, "DELETE FROM settle.period_attempt RETURNING period, alone, started", 0, NULL,
				 PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		const char *period = PQgetvalue(res, i, 0);
		int k = contain_find(cp, n, period);
		if (k >= 0)
			cp[k].alone = 1;
		if (strcmp(PQgetvalue(res, i, 1), "t") != 0)
			continue;
		const char *params[] = { period, PQgetvalue(res, i, 2) };
		PGresult *r = db_query(db,
			"INSERT INTO settle.period_failure AS f (period, first_failed, last_failed, failures, crashed, reason)"
			" VALUES ($1, $2::timestamptz, $2::timestamptz, 1, true,"
			"         'the nightly process died while computing it (an internal error, a crash or a kill;"
			" its own log says which)')"
			" ON CONFLICT (period) DO UPDATE SET last_failed = EXCLUDED.last_failed,"
			"   failures = f.failures + 1, crashed = true, reason = EXCLUDED.reason",
			2, params, PGRES_COMMAND_OK, e);
		if (!r)
			rc = -1;
		PQclear(r);
	}
	PQclear(res);
	return rc;
}

static int contain_read_streaks(struct db *db, struct contain_period *cp, size_t n, struct err *e)
{
	PGresult *res = db_query(db,
		"SELECT period, to_char(first_failed AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		"       failures, crashed, reason FROM settle.period_failure ORDER BY period",
		0, NULL, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		int k = contain_find(cp, n, PQgetvalue(res, i, 0));
		if (k < 0)
			continue;
		struct contain_period *c = &cp[k];
		c->failing = 1;
		snprintf(c->since, sizeof c->since, "%s", PQgetvalue(res, i, 1));
		c->failures = atoi(PQgetvalue(res, i, 2));
		c->crashed = strcmp(PQgetvalue(res, i, 3), "t") == 0;
		snprintf(c->reason, sizeof c->reason, "%s", PQgetvalue(res, i, 4));
		if (c->crashed)
			c->alone = 1; /* it may kill the process again: never in the group */
	}
	PQclear(res);
	return 0;
}

int contain_prepare(struct db *db, struct contain_period *cp, size_t n, const struct msg_sink *msg,
		    struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		int32_t p = cp[i].period;
		memset(&cp[i], 0, sizeof cp[i]);
		cp[i].period = p;
	}
	if (db_begin(db, e) < 0)
		return -1;
	if (contain_take_attempts(db, cp, n, e) < 0 || contain_read_streaks(db, cp, n, e) < 0 || db_commit(db, e) < 0) {
		db_rollback(db);
		return -1;
	}
	/* Said before computing: the run may die in that period again, before its summary. */
	for (size_t i = 0; i < n; i++) {
		char p[8];
		period_format(cp[i].period, p);
		if (cp[i].crashed)
			msg_say(msg, MSG_WARNING,
				"%s: an earlier nightly died while computing it (%d time%s since %s); computing it alone,"
				" after the other periods", p, cp[i].failures, cp[i].failures == 1 ? "" : "s", cp[i].since);
		else if (cp[i].alone)
			msg_say(msg, MSG_WARNING,
				"%s: the previous nightly died while computing it or a period beside it; computing it alone",
				p);
	}
	return 0;
}

int contain_attempt(struct db *db, const int32_t *periods, size_t n, int alone, int64_t started_us, struct err *e)
{
	char started[40];
	time_format_pg(started_us, started);
	if (db_begin(db, e) < 0)
		return -1;
	/* The periods computed before these are committed: their attempts are over. */
	if (db_exec(db, "DELETE FROM settle.period_attempt", e) < 0) {
		db_rollback(db);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char p[8];
		period_format(periods[i], p);
		const char *params[] = { p, alone ? "true" : "false", started };
		PGresult *res = db_query(db,
			"INSERT INTO settle.period_attempt (period, started, alone) VALUES ($1, $3::timestamptz, $2::boolean)"
			" ON CONFLICT (period) DO UPDATE SET started = EXCLUDED.started, alone = EXCLUDED.alone",
			3, params, PGRES_COMMAND_OK, e);
		if (!res) {
			db_rollback(db);
			return -1;
		}
		PQclear(res);
	}
	return db_commit(db, e);
}

static int contain_outcome(struct db *db, const char *as_of, const struct contain_period *c, struct err *e)
{
	char p[8];
	period_format(c->period, p);
	PGresult *res;
	if (c->failed) {
		const char *params[] = { p, as_of, c->err.msg };
		res = db_query(db,
			"INSERT INTO settle.period_failure AS f (period, first_failed, last_failed, failures, crashed, reason)"
			" VALUES ($1, $2::timestamptz, $2::timestamptz, 1, false, $3)"
			" ON CONFLICT (period) DO UPDATE SET last_failed = EXCLUDED.last_failed,"
			"   failures = f.failures + 1, crashed = false, reason = EXCLUDED.reason",
			3, params, PGRES_COMMAND_OK, e);
	} else {
		const char *params[] = { p };
		res = db_query(db, "DELETE FROM settle.period_failure WHERE period = $1", 1, params, PGRES_COMMAND_OK, e);
	}
	PQclear(res);
	return res ? 0 : -1;
}

int contain_finish(struct db *db, int64_t as_of_us, const struct contain_period *cp, size_t n,
		   int64_t through_file_id, int64_t retraction_through, struct err *e)
{
	char as_of[40], through[24], retr[24];
	time_format_pg(as_of_us, as_of);
	snprintf(through, sizeof through, "%lld", (long long)through_file_id);
	snprintf(retr, sizeof retr, "%lld", (long long)retraction_through);
	if (db_begin(db, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (contain_outcome(db, as_of, &cp[i], e) < 0)
			goto fail;
	const char *params[] = { through, retr };
	PGresult *res = db_query(db,
		"UPDATE settle.nightly_state SET"
		" reported_through_file_id = greatest(reported_through_file_id, $1::bigint),"
		" reported_through_retraction_id = greatest(reported_through_retraction_id, $2::bigint)",
		2, params, PGRES_COMMAND_OK, e);
	if (!res)
		goto fail;
	PQclear(res);
	if (db_exec(db, "DELETE FROM settle.period_attempt", e) < 0)
		goto fail;
	return db_commit(db, e);
fail:
	db_rollback(db);
	return -1;
}

/* Whether a run at as_of sees any dated row in the month of period (billing invoice date,
 * metering hour, deposit value date). */
static int contain_month_has_rows(struct db *db, const char *as_of, int32_t period, int *has, struct err *e)
{
	char p[8];
	period_format(period, p);
	const char *params[] = { as_of, p };
	return db_query_bool(db,
		"WITH m AS (SELECT ($2 || '-01')::date AS d0, (($2 || '-01')::date + interval '1 month')::date AS d1),"
		" v AS (SELECT v.file_id FROM settle.visible_files($1::timestamptz) v)"
		" SELECT EXISTS (SELECT 1 FROM settle.billing_event b, m WHERE b.file_id IN (SELECT file_id FROM v)"
		"                AND b.invoice_date >= m.d0::timestamp AT TIME ZONE 'UTC')"
		"     OR EXISTS (SELECT 1 FROM settle.metering u, m WHERE u.file_id IN (SELECT file_id FROM v)"
		"                AND u.usage_hour >= m.d0::timestamp AT TIME ZONE 'UTC')"
		"     OR EXISTS (SELECT 1 FROM settle.bank_deposit d, m WHERE d.file_id IN (SELECT file_id FROM v)"
		"                AND d.value_date >= m.d0)",
		2, params, has, e);
}

int contain_drop_uncomputable(struct db *db, int64_t as_of_us, int32_t *periods, size_t *n,
			      const struct msg_sink *msg, struct err *e)
{
	char as_of[40];
	time_format_pg(as_of_us, as_of);
	size_t k = 0;
	for (size_t i = 0; i < *n; i++) {
		int has = 1;
		if (!period_computable(periods[i])) {
			if (contain_month_has_rows(db, as_of, periods[i], &has, e) < 0)
				return -1;
			if (!has) {
				char p[8];
				period_format(periods[i], p);
				const char *params[] = { p };
				PGresult *r = db_query(db, "DELETE FROM settle.period_failure WHERE period = $1 RETURNING 1", 1,
						       params, PGRES_TUPLES_OK, e);
				if (!r)
					return -1;
				if (PQntuples(r) > 0)
					msg_say(msg, MSG_WARNING,
						"%s: no longer has rows (retracted): not reported, no longer failing", p);
				PQclear(r);
			}
		}
		if (has)
			periods[k++] = periods[i];
	}
	*n = k;
	return 0;
}

void contain_abandon(struct db *db)
{
	/* Straight through libpq: the query helpers refuse to start anything after a signal. */
	PGconn *conn = db_conn(db);
	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE)
		PQclear(PQexec(conn, "DELETE FROM settle.period_attempt"));
}
