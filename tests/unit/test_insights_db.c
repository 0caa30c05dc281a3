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
 *
 * Before it commits, every call also checks the usage passes (docs/insights.md, "Memory"): inside
 * savepoints, the same run and period are computed again with budgets of a few points
 * (SETTLE_INSIGHTS_POINTS_PER_PASS), so that the records are read in passes over ranges of series,
 * with fresh statistics of settle.metering (passes from the start) and with none (one pass that
 * overflows first); the insight rows must be those of the single pass, byte for byte, or the call
 * fails. So each fixture of test_insights.sh runs both ways. The third line of stdout says whether
 * it was checked (TEST_INSIGHTS_BUDGET=N checks passes of N points only, =none not at all): on a database with more than PASSES_CHECK_RECORDS_MAX metering records (a
 * benchmark's) passes of a few points would take hours, and it is not.
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

#define PASSES_CHECK_RECORDS_MAX 200000
/* Budgets of one series per pass, of a few, and of one pass after an overflow (no statistics). */
static const char *const passes_budgets[] = { "1", "100", "5000", "20000" };
#define PASSES_BUDGETS_N (sizeof passes_budgets / sizeof passes_budgets[0])

/* The insight rows of a run and period as one text, each table in the order of its key. */
static const char dump_sql[] =
	"SELECT concat_ws(E'\\n--\\n',"
	" coalesce((SELECT string_agg(t::text, E'\\n' ORDER BY t.customer_aws_account_id COLLATE \"C\","
	"           t.product_code COLLATE \"C\", t.dimension COLLATE \"C\", t.source COLLATE \"C\")"
	"           FROM settle.insight_usage t WHERE t.run_id = $1::bigint AND t.period = $2), ''),"
	" coalesce((SELECT string_agg(t::text, E'\\n' ORDER BY t.reference COLLATE \"C\", t.seq)"
	"           FROM settle.exception t WHERE t.run_id = $1::bigint AND t.period = $2"
	"           AND t.code = 'USAGE_ANOMALY'), ''),"
	" coalesce((SELECT string_agg(t::text, E'\\n' ORDER BY t.usage_hour)"
	"           FROM settle.insight_usage_point t WHERE t.run_id = $1::bigint AND t.period = $2), ''),"
	" coalesce((SELECT t::text FROM settle.insight_summary t"
	"           WHERE t.run_id = $1::bigint AND t.period = $2), ''))";

/* *out: malloc'd dump of the run's insight rows for the period. */
static int dump_insights(struct db *db, const char *run, const char *period, char **out, struct err *e)
{
	const char *params[] = { run, period };
	PGresult *res = db_query(db, dump_sql, 2, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	*out = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return *out ? 0 : err_set(e, EXIT_FAILED, "out of memory");
}

/* One computation in passes, rolled back: its dump into *out. */
static int compute_in_passes(struct db *db, const struct config *cfg, int64_t run_id, int32_t period,
			     int64_t as_of_us, const char *budget, const char *stats_sql, char **out, struct err *e)
{
	char run[24], period_text[8];
	snprintf(run, sizeof run, "%" PRId64, run_id);
	period_format(period, period_text);
	struct insights_summary s;
	if (db_exec(db, "SAVEPOINT insights_passes", e) < 0)
		return -1;
	setenv("SETTLE_INSIGHTS_POINTS_PER_PASS", budget, 1);
	int rc = db_exec(db, stats_sql, e);
	if (rc == 0)
		rc = insights_compute(db, cfg, run_id, period, as_of_us, &s, e);
	unsetenv("SETTLE_INSIGHTS_POINTS_PER_PASS");
	if (rc == 0)
		rc = dump_insights(db, run, period_text, out, e);
	if (db_exec(db, "ROLLBACK TO SAVEPOINT insights_passes", rc < 0 ? NULL : e) < 0)
		rc = -1;
	return rc;
}

/* The rows of several passes equal `expected`, those of one pass. *checked = 0 when the database
 * is too large to try. */
static int check_passes(struct db *db, const struct config *cfg, int64_t run_id, int32_t period, int64_t as_of_us,
			const char *expected, int *checked, struct err *e)
{
	static const struct {
		const char *name, *sql;
	} stats[] = {
		{ "fresh statistics", "ANALYZE settle.metering" },
		/* A table refilled after TRUNCATE has none (reltuples -1), as after a large load. */
		{ "no statistics",
		  "CREATE TEMP TABLE insights_passes_m ON COMMIT DROP AS SELECT * FROM settle.metering;"
		  "TRUNCATE settle.metering; INSERT INTO settle.metering SELECT * FROM pg_temp.insights_passes_m" },
	};
	PGresult *res = db_query(db, "SELECT count(*) FROM settle.metering", 0, NULL, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	*checked = strtoll(PQgetvalue(res, 0, 0), NULL, 10) <= PASSES_CHECK_RECORDS_MAX;
	PQclear(res);
	const char *skip = getenv("TEST_INSIGHTS_BUDGET");
	if (skip && strcmp(skip, "none") == 0)
		*checked = 0; /* the caller checks passes on another call */
	/* TEST_INSIGHTS_BUDGET replaces the budgets by one (a larger test's series in a few passes). */
	const char *only = getenv("TEST_INSIGHTS_BUDGET");
	size_t budgets_n = only && *only ? 1 : PASSES_BUDGETS_N;
	for (size_t b = 0; *checked && b < budgets_n; b++) {
		for (size_t k = 0; k < sizeof stats / sizeof stats[0]; k++) {
			char *got = NULL;
			const char *budget = only && *only ? only : passes_budgets[b];
			if (compute_in_passes(db, cfg, run_id, period, as_of_us, budget, stats[k].sql, &got, e) < 0)
				return err_prefix(e, "in passes of %s points, %s", budget, stats[k].name);
			int same = strcmp(got, expected) == 0;
			free(got);
			if (!same)
				return err_set(e, EXIT_FAILED,
					       "in passes of %s points, %s: the insight rows differ from one pass's",
					       budget, stats[k].name);
		}
	}
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
	char run[24], *expected = NULL;
	snprintf(run, sizeof run, "%" PRId64, run_id);
	unsetenv("SETTLE_INSIGHTS_POINTS_PER_PASS"); /* one pass: the reference */
	if (insights_compute(db, &cfg, run_id, period, as_of_us, &s, &e) < 0 ||
	    dump_insights(db, run, period_text, &expected, &e) < 0)
		goto fail;
	int checked = 0, rc = check_passes(db, &cfg, run_id, period, as_of_us, expected, &checked, &e);
	free(expected);
	if (rc < 0 || db_commit(db, &e) < 0)
		goto fail;
	char line[256];
	insights_summary_line(&s, line, sizeof line);
	printf("run_id %" PRId64 "\nsummary: %s\npasses: ", run_id, line);
	const char *only = getenv("TEST_INSIGHTS_BUDGET");
	if (checked && only && *only)
		printf("the same rows in passes of at most %s", only);
	else if (checked)
		for (size_t b = 0; b < PASSES_BUDGETS_N; b++)
			printf("%s%s", b ? ", " : "the same rows in passes of at most ", passes_budgets[b]);
	printf("%s\n", checked ? " points" : "not checked (a large database)");
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
