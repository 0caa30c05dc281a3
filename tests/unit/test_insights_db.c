/* test_insights_db.c — a driver for tests/integration/test_insights.sh, not a unit test.
 *
 * The commands compute insights together with reconcile (report_job_run); to test the tables
 * alone, the integration test runs insights_compute through this binary (built with the unit
 * tests; tests/run.sh also runs it without arguments, when it does nothing and prints nothing):
 *
 *   test_insights_db CONNINFO PERIOD AS_OF [RUN_ID]
 *
 * creates a settle.run row (or reuses RUN_ID), runs insights_compute in one transaction as the
 * report code will, commits, and prints "run_id N" and "summary: <insights_summary_line>" on
 * stdout. Errors go to stderr with exit status 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "insights.h"
#include "timeutil.h"

static int create_run(struct db *db, const char *as_of, int64_t *run_id, struct err *e)
{
	const char *params[] = { as_of };
	static const char sql[] =
		"INSERT INTO settle.run (command, as_of, started_at, settle_version, schema_version, config)"
		" SELECT 'test-insights', $1::timestamptz, $1::timestamptz, 'test', max(version), ''"
		" FROM settle.schema_migration RETURNING run_id";
	PGresult *res = db_query(db, sql, 1, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	*run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

static int drive(const char *conninfo, const char *period_text, const char *as_of_text, const char *run_text)
{
	struct err e = { 0 };
	struct db *db = NULL;
	struct config cfg;
	int32_t period;
	int64_t as_of_us, run_id = 0;
	char as_of[40];
	config_init(&cfg);
	if (period_parse(period_text, strlen(period_text), &period) < 0 ||
	    time_parse(as_of_text, strlen(as_of_text), &as_of_us) < 0) {
		fprintf(stderr, "test_insights_db: bad period or as-of\n");
		return 1;
	}
	time_format_pg(as_of_us, as_of);
	if (db_open(conninfo, &db, &e) < 0)
		goto fail;
	if (db_begin(db, &e) < 0)
		goto fail;
	if (run_text)
		run_id = strtoll(run_text, NULL, 10);
	else if (create_run(db, as_of, &run_id, &e) < 0)
		goto fail;
	struct insights_summary s;
	if (insights_compute(db, &cfg, run_id, period, as_of_us, &s, &e) < 0 || db_commit(db, &e) < 0)
		goto fail;
	char line[256];
	insights_summary_line(&s, line, sizeof line);
	printf("run_id %" PRId64 "\nsummary: %s\n", run_id, line);
	db_close(db);
	return fflush(stdout) == 0 ? 0 : 1;
fail:
	fprintf(stderr, "test_insights_db: %s\n", e.msg);
	db_rollback(db);
	db_close(db);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 1)
		return 0; /* run by tests/run.sh as a unit binary: the integration test drives it */
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: test_insights_db CONNINFO PERIOD AS_OF [RUN_ID]\n");
		return 2;
	}
	return drive(argv[1], argv[2], argv[3], argc == 5 ? argv[4] : NULL);
}
