/* cmd_retract.c — `settle retract FILE|--file-id N --why TEXT`: withdraw an ingested file
 * (SPEC §7; docs/ingest.md "Retracting a file").
 *
 * Stored rows are never updated or deleted (SPEC §6), so a retraction is one more fact: a row of
 * settle.retraction (sql/013_retract.sql) with the file, the instant (the database clock, the
 * clock of ingested_at and of every as-of), the reason and $USER. Every as-of reader sees files
 * through settle.visible_files(as_of), which leaves out a file retracted at or before as_of: a run
 * at a later as-of ignores the file's rows, a rerun at an earlier as-of sees exactly what the
 * original run saw and reproduces its set byte for byte. The next nightly re-reports the periods
 * the file touched (contain_periods, contain.h).
 *
 * FILE names ledger rows by their file name as ingest recorded it (the name given on the command
 * line, or the path relative to the inbox for nightly); when none has that exact name, by its
 * base name. Every ledger row of that name is retracted: an append is recorded as one more
 * ingest of the same name, and withdrawing half a file would be worse than either. The command
 * takes the run lock (SPEC §6), so it never lands in the middle of a nightly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "run.h"
#include "settle.h"
#include "timeutil.h"

#define RETRACT_WHY_MAX 1000

/* The ledger rows FILE or --file-id names, with whether (and when) each is retracted already. */
static PGresult *retract_find(struct db *db, const char *file, const char *file_id, struct err *e)
{
	/* both statements are constants; the user's values go in as parameters only */
#define RETRACT_COLS                                                                                     \
	"SELECT f.file_id, f.file_name, f.kind, f.rows_loaded,"                                          \
	"       to_char(r.retracted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), r.reason" \
	" FROM settle.ingest_file f LEFT JOIN settle.retraction r ON r.file_id = f.file_id"
	if (file_id) {
		const char *params[] = { file_id };
		return db_query(db, RETRACT_COLS " WHERE f.file_id = $1::bigint", 1, params, PGRES_TUPLES_OK, e);
	}
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	/* the exact name when the ledger has it, else the base name */
	const char *params[] = { file, base };
	return db_query(db,
			RETRACT_COLS " WHERE f.file_name = CASE WHEN EXISTS (SELECT 1 FROM settle.ingest_file x"
				     " WHERE x.file_name = $1) THEN $1 ELSE $2 END ORDER BY f.file_id",
			2, params, PGRES_TUPLES_OK, e);
#undef RETRACT_COLS
}

/* Records the retraction of every row of found not retracted yet, at one instant: the database
 * clock read once (run_db_now_us), stored as it is and shown in *at to the second, as the ledger's
 * instants are. Returns how many it retracted, or -1. */
static int retract_record(struct db *db, PGresult *found, const char *why, char at[32], struct err *e)
{
	const char *user = getenv("USER");
	if (!user || !*user)
		user = "unknown";
	int64_t now_us;
	if (run_db_now_us(db, &now_us, e) < 0)
		return -1;
	char now[40];
	time_format_pg(now_us, now);
	/* to the second, truncated as to_char's HH24:MI:SS is (the instant is after 1970, so % is the
	 * fraction of its second) */
	ASSERT(now_us >= 0);
	time_format(now_us - now_us % TIME_US_PER_SEC, at);
	int n = 0, rc = 0;
	for (int i = 0; i < PQntuples(found) && rc == 0; i++) {
		if (!PQgetisnull(found, i, 4))
			continue;
		const char *params[] = { PQgetvalue(found, i, 0), now, why, user };
		PGresult *r = db_query(db,
			"INSERT INTO settle.retraction (file_id, retracted_at, reason, retracted_by)"
			" VALUES ($1::bigint, $2::timestamptz, $3, $4)",
			4, params, PGRES_COMMAND_OK, e);
		if (!r)
			rc = -1;
		PQclear(r);
		n++;
	}
	return rc < 0 ? -1 : n;
}

static int retract_run(struct settle_ctx *ctx, const char *file, const char *file_id, const char *why,
		       struct err *e)
{
	struct db *db;
	if (run_open_locked(ctx, &db, e) < 0 || db_begin(db, e) < 0)
		return -1;
	PGresult *found = retract_find(db, file, file_id, e);
	if (!found)
		goto fail;
	int rows = PQntuples(found);
	if (rows == 0) {
		PQclear(found);
		db_rollback(db);
		return err_set(e, EXIT_USAGE, file ? "no ingested file is named \"%s\"" : "no ingested file has id %s",
			       file ? file : file_id);
	}
	char at[32];
	int n = retract_record(db, found, why, at, e);
	if (n < 0 || db_commit(db, e) < 0) {
		PQclear(found);
		goto fail;
	}
	for (int i = 0; i < rows; i++) {
		if (!PQgetisnull(found, i, 4))
			log_info("file %s (\"%s\", %s) was already retracted on %s: %s; nothing to do", PQgetvalue(found, i, 0),
				 PQgetvalue(found, i, 1), PQgetvalue(found, i, 2), PQgetvalue(found, i, 4),
				 PQgetvalue(found, i, 5));
		else
			log_info("retracted file %s (\"%s\", %s, %s rows) as of %s: runs at a later as-of ignore it;"
				 " the next nightly re-reports its periods", PQgetvalue(found, i, 0), PQgetvalue(found, i, 1),
				 PQgetvalue(found, i, 2), PQgetvalue(found, i, 3), at);
	}
	PQclear(found);
	return 0;
fail:
	db_rollback(db);
	return -1;
}

/* SPEC §7: settle retract FILE|--file-id N --why TEXT. The shared parser (cli.h) takes options
 * before the positional arguments; FILE may also come first, as the synopsis writes it, so the
 * arguments after FILE are parsed again as options (with FILE in the command name's slot). */
int cmd_retract(struct settle_ctx *ctx, int argc, char **argv)
{
	const char *file_id = NULL, *why = NULL;
	const struct cli_opt opts[] = { { "file-id", &file_id, NULL }, { "why", &why, NULL }, { NULL, NULL, NULL } };
	int first, pr = cli_parse("retract", argc, argv, opts, 0, -1, &first);
	if (pr == 0 && argc - first > 1) {
		int rest;
		pr = cli_parse("retract", argc - first, argv + first, opts, 0, 0, &rest);
	}
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	const char *file = first < argc ? argv[first] : NULL;
	if ((file && file_id) || (!file && !file_id))
		return cli_usage_error("retract", "name one file: FILE or --file-id N");
	if (file_id && (strspn(file_id, "0123456789") != strlen(file_id) || !*file_id || strlen(file_id) > 18))
		return cli_usage_error("retract", "--file-id takes a file number (settle status lists them)");
	if (!why || !why[strspn(why, " \t")])
		return cli_usage_error("retract", "--why TEXT is required: the reason is part of the audit trail");
	if (strlen(why) > RETRACT_WHY_MAX || strpbrk(why, "\n\r"))
		return cli_usage_error("retract", "--why TEXT must be one line of at most 1000 bytes");
	if (file && !*file)
		return cli_usage_error("retract", "FILE must not be empty");
	struct err e = { 0 };
	if (retract_run(ctx, file, file_id, why, &e) < 0) {
		log_error("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_FAILED;
	}
	return EXIT_DONE;
}
