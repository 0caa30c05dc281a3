/* cmd_close.c — `settle close --period P [--as-of TS] [--out DIR]` (SPEC §6.1).
 *
 * One run like report's: reconcile P at the as-of and stage its set; before the commit, the
 * staged set is made read-only (chmod a-w) and the close recorded with the MANIFEST's SHA-256 in
 * the same transaction; after it, the set is renamed to DIR/P. Decisions (docs/reports.md
 * "Closing a period"):
 * - A close must be at a later as-of than the period's current close. The earlier closed set is
 *   never removed: it is renamed to DIR/P.closed-<its as-of, compact>, still read-only, and the
 *   ledger keeps its row. A restated set of the earlier close (DIR/P.restated) is removed: the new
 *   close includes what it showed, and `settle rerun` rebuilds it from its run.csv.
 * - A close again at the same as-of is idempotent: when DIR/P already holds it, nothing happens;
 *   when it is missing (a kill between the commit and the rename), the set is written again and
 *   must reproduce the recorded MANIFEST byte for byte.
 * - A killed close leaves the database as before (nothing committed) or the close recorded and
 *   the set staged or in place; the next close of the same as-of completes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "close.h"
#include "digest.h"
#include "log.h"
#include "msg.h"
#include "report_listing.h"
#include "report_set.h"
#include "run.h"
#include "settle.h"
#include "timeutil.h"

struct close_state {
	int32_t period;
	const char *out;
	int record;                      /* 0: the close is already recorded (same as-of again) */
	char expect[DIGEST_HEX_LEN + 1]; /* with record 0: the MANIFEST the ledger has */
	char sha[DIGEST_HEX_LEN + 1];    /* the MANIFEST's SHA-256 of the set written */
	int64_t open_exceptions;         /* the exceptions of the closed set's run */
	int64_t quarantined;             /* the rows of the closed set's rejected.csv */
};

/* What the closed set leaves open: the exceptions of its run (those status counts for the period
 * while this close's as-of is its latest; of this run even when a close at an older as-of is
 * not) and its quarantined rows (rejected.csv's own query, counted). */
static int close_count_open(struct db *db, int64_t run_id, int32_t period, struct close_state *cs, struct err *e)
{
	char p[8], id[24], sql[8192];
	period_format(period, p);
	snprintf(id, sizeof id, "%lld", (long long)run_id);
	int n = snprintf(sql, sizeof sql,
			 "SELECT (SELECT count(*) FROM settle.exception x WHERE x.run_id = $1::bigint AND x.period = $2::text),"
			 " (SELECT count(*) FROM (%s) q)",
			 report_listings[REPORT_REJECTED].sql);
	ASSERT(n > 0 && (size_t)n < sizeof sql);
	const char *params[] = { id, p };
	PGresult *r = db_query(db, sql, 2, params, PGRES_TUPLES_OK, e);
	if (!r)
		return -1;
	/* bigints' text, parsed as the clock's is */
	int rc = report_parse_micros(PQgetvalue(r, 0, 0), &cs->open_exceptions, e) < 0 ||
			 report_parse_micros(PQgetvalue(r, 0, 1), &cs->quarantined, e) < 0 ? -1 : 0;
	PQclear(r);
	return rc;
}

/* One line before the summary when the closed set leaves something open: still closed (the
 * accountants may book it so), but the period is not clean and a cron mail should say so. */
static void close_say_open(const char *p, const struct close_state *cs)
{
	if (cs->open_exceptions == 0 && cs->quarantined == 0)
		return;
	char exc[64] = "", rej[64] = "";
	if (cs->open_exceptions)
		snprintf(exc, sizeof exc, "%lld open exception%s", (long long)cs->open_exceptions,
			 cs->open_exceptions == 1 ? "" : "s");
	if (cs->quarantined)
		snprintf(rej, sizeof rej, "%lld quarantined row%s", (long long)cs->quarantined,
			 cs->quarantined == 1 ? "" : "s");
	log_warning("%s is closed with %s%s%s (exceptions.csv, rejected.csv)", p, exc, exc[0] && rej[0] ? " and " : "",
		    rej);
}

/* report_job.before_commit: seal the staged set and record the close in the run's transaction. */
static int close_before_commit(struct db *db, const struct report_job *job, struct report_stage *stages,
			       struct report_job_result *res, struct err *e)
{
	struct close_state *cs = job->arg;
	char dir[REPORT_PATH_MAX], path[REPORT_PATH_MAX + 16];
	report_stage_path(&stages[0], dir);
	snprintf(path, sizeof path, "%s/%s", dir, REPORT_MANIFEST);
	if (digest_file(path, cs->sha, e) < 0)
		return -1;
	if (!cs->record && strcmp(cs->sha, cs->expect) != 0)
		return err_set(e, EXIT_FAILED,
			       "the set as of the close no longer reproduces the closed set (MANIFEST %.12s..., the"
			       " ledger has %.12s...): settle verify tells which files differ",
			       cs->sha, cs->expect);
	if (close_seal_dir(dir, e) < 0 || close_count_open(db, res->run_id, cs->period, cs, e) < 0)
		return -1;
	if (cs->record) { /* the directory as an absolute path: status may run elsewhere */
		char abs[PATH_MAX];
		const char *where = realpath(cs->out, abs) ? abs : cs->out;
		return close_record(db, cs->period, job->as_of_us, cs->sha, res->run_id, where, e);
	}
	return 0;
}

/* The MANIFEST SHA-256 of dir, or "" when it has none. */
static void close_dir_manifest(const char *dir, char hex[DIGEST_HEX_LEN + 1])
{
	char path[REPORT_PATH_MAX + 16];
	struct err ignored = { 0 };
	snprintf(path, sizeof path, "%s/%s", dir, REPORT_MANIFEST);
	if (digest_file(path, hex, &ignored) < 0)
		hex[0] = '\0';
}

/* Moves the earlier closed set out of the way, keeping it: DIR/P -> DIR/P.closed-<its as-of>, the
 * as-of read from its own run.csv (after a killed close the set on disk may be older than the
 * ledger's current close). */
static int close_set_aside(const char *out, const char *p, const struct close_view *prev, char aside[64],
			   struct err *e)
{
	char from[REPORT_PATH_MAX], to[REPORT_PATH_MAX], t[32], runcsv[REPORT_PATH_MAX + 16];
	struct stat sb;
	aside[0] = '\0';
	snprintf(from, sizeof from, "%s/%s", out, p);
	if (lstat(from, &sb) != 0)
		return 0;
	if (!S_ISDIR(sb.st_mode) || (sb.st_mode & 0222) != 0)
		return 0; /* an ordinary set: the new closed set replaces it */
	if (!prev->closed)
		return err_set(e, EXIT_FAILED, "\"%s\" is a read-only set this database did not close: move it away first",
			       from);
	struct report_runfile rf;
	snprintf(runcsv, sizeof runcsv, "%s/%s", from, REPORT_RUN_CSV);
	if (report_runfile_read(runcsv, &rf, e) < 0)
		return err_prefix(e, "the closed set \"%s\"", from);
	close_compact_time(rf.as_of_us, t);
	report_runfile_release(&rf);
	snprintf(aside, 64, "%s.closed-%s", p, t);
	snprintf(to, sizeof to, "%s/%s", out, aside);
	if (rename(from, to) != 0)
		return err_set(e, EXIT_FAILED, "could not move the earlier closed set \"%s\" to \"%s\": %s", from, to,
			       strerror(errno));
	return 0;
}

int cmd_close(struct settle_ctx *ctx, int argc, char **argv)
{
	const char *period_s = NULL, *as_of_s = NULL, *out = "reports";
	const struct cli_opt opts[] = {
		{ "period", &period_s, NULL }, { "as-of", &as_of_s, NULL }, { "out", &out, NULL }, { NULL, NULL, NULL },
	};
	int first, pr = cli_parse("close", argc, argv, opts, 0, 0, &first);
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	struct close_state cs = { .out = out, .record = 1 };
	int64_t as_of_us = 0;
	if (cli_period_as_of("close", period_s, as_of_s, &cs.period, &as_of_us) < 0)
		return EXIT_USAGE;
	struct err e = { 0 };
	struct db *db;
	struct close_view *prev = calloc(1, sizeof *prev);
	struct report_stage st = { 0 };
	struct report_job_result res;
	char p[8], t[32], pt[32], dir[REPORT_PATH_MAX], aside[64] = "";
	period_format(cs.period, p);
	snprintf(dir, sizeof dir, "%s/%s", out, p);
	int rc = EXIT_FAILED;
	if (!prev) {
		log_error("out of memory");
		return EXIT_FAILED;
	}
	if (run_open_locked(ctx, &db, &e) < 0 ||
	    (!as_of_s && run_db_now_us(db, &as_of_us, &e) < 0) || close_find(db, cs.period, -1, prev, &e) < 0)
		goto fail;
	/* Printed to the second as everywhere else (status, ingest); the exact as-of is in the set's
	 * run.csv, which rerun and verify read. Only where two as-ofs must be told apart (a close
	 * before the current one) are they exact when the seconds are alike. */
	time_format_s(as_of_us, t);
	if (period_start_us(cs.period) > as_of_us) {
		rc = cli_usage_error("close", "period %s begins after the as-of %s: there is nothing to close", p, t);
		goto done;
	}
	if (prev->closed) {
		time_format_s(prev->close_as_of_us, pt);
		if (as_of_us < prev->close_as_of_us) {
			if (strcmp(pt, t) == 0) {
				time_format(prev->close_as_of_us, pt);
				time_format(as_of_us, t);
			}
			rc = cli_usage_error("close", "period %s is closed as of %s; a new close needs a later as-of, not %s",
					     p, pt, t);
			goto done;
		}
		if (as_of_us == prev->close_as_of_us) {
			char have[DIGEST_HEX_LEN + 1];
			close_dir_manifest(dir, have);
			if (strcmp(have, prev->manifest_sha256) == 0) {
				log_summary("%s is already closed as of %s (by %s): %s", p, t, prev->closed_by, dir);
				rc = EXIT_DONE;
				goto done;
			}
			cs.record = 0; /* recorded, not in place: write it again */
			memcpy(cs.expect, prev->manifest_sha256, sizeof cs.expect);
		}
	}
	struct report_job job = { .command = "close", .cfg = &ctx->config, .as_of_us = as_of_us, .periods = &cs.period,
				  .periods_n = 1, .out_root = out, .close_mode = REPORT_CLOSE_IGNORE,
				  .before_commit = close_before_commit, .arg = &cs, .msg = &msg_log };
	if (report_job_run(db, &job, &st, &res, &e) < 0)
		goto fail;
	run_failpoint("committed");
	if (close_set_aside(out, p, prev, aside, &e) < 0) {
		report_stage_discard(&st);
		goto fail;
	}
	if (report_stage_publish(&st, &e) < 0) {
		report_stage_discard(&st);
		goto fail;
	}
	if (cs.record && prev->closed) { /* the restatement of the earlier close is superseded */
		char restated[REPORT_PATH_MAX];
		struct stat sb;
		snprintf(restated, sizeof restated, "%s/%s%s", out, p, CLOSE_RESTATED_SUFFIX);
		if (lstat(restated, &sb) == 0) {
			struct report_stage drop = { 0 };
			snprintf(drop.root, sizeof drop.root, "%s", out);
			snprintf(drop.period, sizeof drop.period, "%s", p);
			drop.drop_restated = 1;
			drop.remove_stale = 1;
			log_mute_info(1);
			(void)report_stage_publish(&drop, &e);
			log_mute_info(0);
			log_info("removed %s: the restatement of the superseded close (settle rerun rebuilds it from"
				 " its run.csv)", restated);
		}
	}
	close_say_open(p, &cs);
	if (aside[0])
		log_summary("closed %s as of %s: %s, read-only, MANIFEST sha256 %s; the earlier closed set is kept in %s/%s",
			    p, t, dir, cs.sha, out, aside);
	else
		log_summary("closed %s as of %s: %s, read-only, MANIFEST sha256 %s", p, t, dir, cs.sha);
	rc = EXIT_DONE;
	goto done;
fail:
	log_error("%s", e.msg);
	rc = e.exit_code ? e.exit_code : EXIT_FAILED;
done:
	free(prev);
	return rc;
}
