/* cmd_status.c — `settle status`: what is in the database (SPEC §7).
 *
 * Sections, each one query: ingested files (with their counts and ingest instant), the first
 * rejected rows of each file, runs, and per period the open exceptions of its latest run (the
 * latest as-of, then the latest run). The run and exception sections read the result tables of
 * 003_results.sql; they are the hook for the reconcile and report modules to say more.
 */
#include <stdio.h>
#include <string.h>

#include <sys/stat.h>

#include "cli.h"
#include "close.h"
#include "contain.h"
#include "log.h"
#include "offer_terms_list.h"
#include "run.h"
#include "settle.h"

#define STATUS_REJECTED_PER_FILE 5
#define STATUS_RUNS_MAX 20

static int status_files(struct db *db, struct err *e)
{
	PGresult *r = db_query(db,
			       "SELECT file_id, to_char(ingested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
			       " kind, rows_loaded, rows_unchanged, rows_rejected, file_rejected, file_name,"
			       " (SELECT format('  (retracted %s by %s: %s)',"
			       "    to_char(r.retracted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
			       "    r.retracted_by, r.reason) FROM settle.retraction r WHERE r.file_id = f.file_id)"
			       " FROM settle.ingest_file f ORDER BY file_id",
			       0, NULL, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	printf("files: %d\n", n);
	if (n > 0)
		/* kind: 22 columns, the longest feed folder name (legacyidmappingfeed_v1) */
		printf("  %6s  %-20s  %-22s  %10s  %9s  %8s  %s\n", "file", "ingested_at", "kind", "loaded", "unchanged",
		       "rejected", "name");
	for (int i = 0; i < n; i++)
		printf("  %6s  %-20s  %-22s  %10s  %9s  %8s  %s%s%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		       PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
		       PQgetvalue(r, i, 7), strcmp(PQgetvalue(r, i, 6), "t") == 0 ? "  (file rejected)" : "",
		       PQgetvalue(r, i, 8)); /* sql/013: "" unless retracted */
	PQclear(r);
	return 0;
}

/* What the last nightly did not read (sql/032: the walk's problems, files whose read failed, files
 * held back behind them): none of it is in the ledger, and each is read again the next night. */
static int status_set_aside(struct db *db, struct err *e)
{
	PGresult *r = db_query(db,
			       "SELECT path, CASE WHEN held THEN 'waits: ' ELSE '' END || why,"
			       " to_char(night_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
			       " FROM settle.inbox_set_aside ORDER BY path",
			       0, NULL, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	if (n > 0)
		printf("\nset aside by the last nightly (as of %s; not ingested, read again next night): %d\n",
		       PQgetvalue(r, 0, 2), n);
	for (int i = 0; i < n; i++)
		printf("  %s: %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
	PQclear(r);
	return 0;
}

static int status_rejected(struct db *db, struct err *e)
{
	char lim[16];
	snprintf(lim, sizeof lim, "%d", STATUS_REJECTED_PER_FILE);
	const char *params[] = { lim };
	PGresult *r = db_query(db,
			       "SELECT f.file_id, f.file_name, f.rows_rejected, x.line, x.column_name, x.code, x.detail"
			       " FROM settle.ingest_file f CROSS JOIN LATERAL ("
			       "   SELECT line, column_name, code, detail FROM settle.rejected_row j"
			       "   WHERE j.file_id = f.file_id ORDER BY line, column_name LIMIT $1::int) x"
			       " WHERE f.rows_rejected > 0 ORDER BY f.file_id, x.line, x.column_name",
			       1, params, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	if (n > 0)
		printf("\nrejected rows (the first %d of each file; all are in settle.rejected_row):\n",
		       STATUS_REJECTED_PER_FILE);
	const char *file = NULL;
	for (int i = 0; i < n; i++) {
		if (!file || strcmp(file, PQgetvalue(r, i, 0)) != 0) {
			file = PQgetvalue(r, i, 0);
			printf("  file %s, %s: %s rejected\n", file, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
		}
		int has_col = !PQgetisnull(r, i, 4);
		printf("    %s:%s: %s%s%s [%s]\n", PQgetvalue(r, i, 1), PQgetvalue(r, i, 3),
		       has_col ? PQgetvalue(r, i, 4) : "", has_col ? ": " : "", PQgetvalue(r, i, 6),
		       PQgetvalue(r, i, 5));
	}
	PQclear(r);
	return 0;
}

/* Hook: runs as settle.run records them (reconcile/report/nightly fill it). */
static int status_runs(struct db *db, struct err *e)
{
	char lim[16];
	snprintf(lim, sizeof lim, "%d", STATUS_RUNS_MAX);
	const char *params[] = { lim };
	PGresult *r = db_query(db,
			       "SELECT r.run_id, r.command,"
			       " to_char(r.as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
			       " coalesce(string_agg(p.period, ' ' ORDER BY p.period), '')"
			       " FROM settle.run r LEFT JOIN settle.run_period p USING (run_id)"
			       " GROUP BY r.run_id ORDER BY r.run_id DESC LIMIT $1::int",
			       1, params, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	printf("\nruns:%s\n", n ? "" : " none yet");
	if (n > 0)
		printf("  %6s  %-10s  %-20s  %s\n", "run", "command", "as_of", "periods");
	for (int i = 0; i < n; i++)
		printf("  %6s  %-10s  %-20s  %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
		       PQgetvalue(r, i, 3));
	PQclear(r);
	return 0;
}

/* Hook: per period, the exceptions of its latest run are the open ones. Latest by as-of, then by
 * run id: an auditor's rerun or verify of an old set is a newer run at an older as-of, and the
 * period's exceptions as known at that as-of are not the ones open now. */
static int status_periods(struct db *db, struct err *e)
{
	PGresult *r = db_query(db, RUN_SQL_PERIODS_OPEN " ORDER BY p.period", 0, NULL, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	if (n > 0) {
		printf("\nperiods:\n  %-7s  %6s  %s\n", "period", "run", "open exceptions");
		for (int i = 0; i < n; i++)
			printf("  %-7s  %6s  %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
	}
	PQclear(r);
	return 0;
}

/* SPEC §6.1: every close in the ledger, the current one of each period first, with where its set
 * is and whether a restated set stands beside it (in the --out directory the close wrote to). */
static int status_closes(struct db *db, struct err *e)
{
	PGresult *r = db_query(db,
			       "SELECT period, to_char(as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
			       " closed_by, left(manifest_sha256, 12), out_dir,"
			       " as_of = max(as_of) OVER (PARTITION BY period)"
			       " FROM settle.period_close ORDER BY period, as_of DESC",
			       0, NULL, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	if (n > 0)
		printf("\nclosed periods:\n  %-7s  %-20s  %-12s  %-12s  %s\n", "period", "as_of", "closed_by", "manifest",
		       "state");
	for (int i = 0; i < n; i++) {
		const char *p = PQgetvalue(r, i, 0), *out = PQgetvalue(r, i, 4);
		int current = strcmp(PQgetvalue(r, i, 5), "t") == 0;
		char restated[4200];
		struct stat sb;
		snprintf(restated, sizeof restated, "%s/%s%s/MANIFEST", out, p, CLOSE_RESTATED_SUFFIX);
		const char *state = !current ? "superseded"
			: stat(restated, &sb) == 0 ? "closed, restated" : "closed";
		printf("  %-7s  %-20s  %-12s  %-12s  %s", p, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
		       state);
		if (current)
			printf(" (%s/%s%s)", out, p, strcmp(state, "closed") == 0 ? "" : CLOSE_RESTATED_SUFFIX);
		putchar('\n');
	}
	PQclear(r);
	return 0;
}

/* `settle status`: the periods failing in nightly, with since when and why (nothing when none). */
static int contain_status(struct db *db, struct err *e)
{
	PGresult *r = db_query(db,
		"SELECT period, to_char(first_failed AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), failures,"
		"       CASE WHEN crashed THEN 'crashed' ELSE 'error' END, reason"
		" FROM settle.period_failure ORDER BY period",
		0, NULL, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	int n = PQntuples(r);
	if (n > 0) {
		printf("\nperiods failing in nightly (retried every night):\n  %-7s  %-20s  %8s  %-7s  %s\n", "period",
		       "since", "nightlies", "how", "last reason");
		for (int i = 0; i < n; i++)
			printf("  %-7s  %-20s  %8s  %-7s  %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
			       PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
	}
	PQclear(r);
	return 0;
}

int cmd_status(struct settle_ctx *ctx, int argc, char **argv)
{
	int first, pr = cli_parse("status", argc, argv, NULL, 0, 0, &first);
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	ctx->open_existing = 1; /* SPEC §7: a command that only reads creates no database */
	struct err e = { 0 };
	struct db *db;
	int64_t now_us;
	if (settle_db(ctx, &db, &e) < 0 || status_files(db, &e) < 0 || status_set_aside(db, &e) < 0
	    || status_rejected(db, &e) < 0
	    || status_runs(db, &e) < 0 || status_periods(db, &e) < 0 || status_closes(db, &e) < 0
	    || contain_status(db, &e) < 0 || run_db_now_us(db, &now_us, &e) < 0
	    || offer_terms_list(db, now_us, stdout, &e) < 0) {
		log_error("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_FAILED;
	}
	if (fflush(stdout) != 0) {
		log_error("could not write the status");
		return EXIT_FAILED;
	}
	return EXIT_DONE;
}
