/* cmd_report.c — `settle report`, `settle rerun` and `settle verify` (SPEC §6, §7, §8).
 *
 * All three are one run (report_job_run): lock, begin, create the run, reconcile the period at
 * the as-of, write the set into a temporary directory from the uncommitted results, commit. report
 * and rerun then swap the set into place; verify compares it with the MANIFEST of an existing set
 * and throws it away.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "digest.h"
#include "insights.h"
#include "log.h"
#include "msg.h"
#include "report_set.h"
#include "run.h"
#include "settle.h"
#include "timeutil.h"

#define REPORT_MANIFEST_MAX (1u << 20)
#define REPORT_MANIFEST_ENTRIES_MAX 64

/* SPEC §7: a future period or an as-of before any ingest gives an empty set; say so. */
static int report_warn_empty(struct db *db, int32_t period, int64_t as_of_us, struct err *e)
{
	char p[8], t[32], a[40];
	period_format(period, p);
	time_format(as_of_us, t);
	if (period_start_us(period) > as_of_us)
		log_warning("period %s begins after the as-of %s: its set has no data", p, t);
	time_format_pg(as_of_us, a);
	const char *params[] = { a };
	int any = 0, visible = 0;
	if (db_query_bool(db, "SELECT EXISTS (SELECT 1 FROM settle.ingest_file WHERE ingested_at <= $1::timestamptz)",
			  1, params, &any, e) < 0)
		return -1;
	if (!any) {
		log_warning("no file was ingested at or before the as-of %s: the set of %s is empty", t, p);
		return 0;
	}
	/* Retracted files are ingested but not seen (settle.visible_files, sql/013). */
	if (db_query_bool(db, "SELECT EXISTS (SELECT 1 FROM settle.visible_files($1::timestamptz))", 1, params,
			  &visible, e) < 0)
		return -1;
	if (!visible)
		log_warning("every file ingested by the as-of %s is retracted: the set of %s is empty", t, p);
	return 0;
}

static int report_fail(struct err *e)
{
	log_progress_done();
	log_error("%s", e->msg);
	return e->exit_code ? e->exit_code : EXIT_FAILED;
}

/* Locks, runs the job for one period and, unless keep_staged, publishes the set. *as_of_us is
 * the as-of, or with as_of_given 0 is set to the database's "now". close_mode and against say
 * what a close of the period means (report_set.h). */
static int report_run_one(struct settle_ctx *ctx, const char *command, const struct config *cfg,
			  int32_t period, int64_t *as_of_us, int as_of_given, const char *out_root,
			  enum report_close_mode close_mode, int64_t against_as_of_us,
			  struct report_stage *st, struct report_job_result *res, int keep_staged, struct err *e)
{
	struct db *db;
	if (run_open_locked(ctx, &db, e) < 0)
		return -1;
	if (!as_of_given && run_db_now_us(db, as_of_us, e) < 0)
		return -1;
	if (!keep_staged && report_warn_empty(db, period, *as_of_us, e) < 0)
		return -1;
	struct report_job job = { .command = command, .cfg = cfg, .as_of_us = *as_of_us, .periods = &period,
				  .periods_n = 1, .out_root = out_root, .close_mode = close_mode,
				  .against_as_of_us = against_as_of_us, .msg = &msg_log };
	if (report_job_run(db, &job, st, res, e) < 0)
		return -1;
	if (keep_staged)
		return 0;
	run_failpoint("committed");
	if (report_stage_publish(st, e) < 0) {
		report_stage_discard(st);
		return -1;
	}
	return 0;
}

static void report_done(const char *out_root, int32_t period, int64_t as_of_us, const struct report_job_result *r,
			const struct report_stage *st)
{
	char p[8], t[32], ins[256];
	period_format(period, p);
	time_format(as_of_us, t);
	if (st->drop_restated) { /* a closed period as closed */
		log_summary("%s %s: nothing written", p, st->note);
		return;
	}
	if (st->note[0] && strcmp(st->target, p) != 0)
		log_summary("%s %s", p, st->note);
	insights_summary_line(&st->insights, ins, sizeof ins);
	log_summary("wrote %s/%s as of %s: %lld charge groups, %lld allocated, %lld exceptions; %s", out_root,
		    st->target, t, (long long)r->total.groups, (long long)r->total.allocated,
		    (long long)r->total.exceptions, ins);
}

/* SPEC §7: settle report --period P [--as-of TS] [--out DIR] */
int cmd_report(struct settle_ctx *ctx, int argc, char **argv)
{
	const char *period_s = NULL, *as_of_s = NULL, *out = "reports";
	const struct cli_opt opts[] = {
		{ "period", &period_s, NULL }, { "as-of", &as_of_s, NULL }, { "out", &out, NULL }, { NULL, NULL, NULL },
	};
	int first, pr = cli_parse("report", argc, argv, opts, 0, 0, &first);
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	struct err e = { 0 };
	int32_t period;
	int64_t as_of_us = 0;
	if (cli_period_as_of("report", period_s, as_of_s, &period, &as_of_us) < 0)
		return EXIT_USAGE;
	struct report_stage st;
	struct report_job_result res;
	if (report_run_one(ctx, "report", &ctx->config, period, &as_of_us, as_of_s != NULL, out,
			   REPORT_CLOSE_RESPECT, 0, &st, &res, 0, &e) < 0)
		return report_fail(&e);
	report_done(out, period, as_of_us, &res, &st);
	return EXIT_DONE;
}

/* Warns when the database no longer holds exactly the input files run.csv lists: the rerun then
 * cannot reproduce the set (verify will say which files differ). */
static int report_check_inputs(struct settle_ctx *ctx, const struct report_runfile *rf, struct err *e)
{
	struct db *db;
	if (settle_db(ctx, &db, e) < 0)
		return -1;
	char as_of_pg[40];
	time_format_pg(rf->as_of_us, as_of_pg);
	const char *params[] = { as_of_pg };
	PGresult *res = db_query(db, "SELECT sha256 FROM settle.ingest_file WHERE ingested_at <= $1::timestamptz"
				     " ORDER BY file_id", 1, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	size_t n = (size_t)PQntuples(res), same = n == rf->inputs_n;
	for (size_t i = 0; same && i < n; i++)
		same = strcmp(PQgetvalue(res, (int)i, 0), rf->inputs_sha256[i]) == 0;
	if (!same)
		log_warning("the database holds other input files as of %s than run.csv lists (%zu here, %zu there):"
			    " the rerun will not reproduce the set", as_of_pg, n, rf->inputs_n);
	PQclear(res);
	int schema = db_schema_version(db, e);
	if (schema < 0)
		return -1;
	if (rf->schema_version >= 0 && schema != rf->schema_version)
		log_warning("run.csv was written with schema version %d, the database has %d", rf->schema_version,
			    schema);
	return 0;
}

/* Reads run.csv and prepares a rerun of it: its period, as-of and configuration. */
static int report_load_run(struct settle_ctx *ctx, const char *path, struct report_runfile *rf, struct err *e)
{
	if (report_runfile_read(path, rf, e) < 0)
		return -1;
	/* Decision (docs/reports.md): another settle version may format or compute differently; the
	 * rerun goes ahead and says so, and verify then shows what differs. */
	if (strcmp(rf->settle_version, SETTLE_VERSION) != 0)
		log_warning("%s was written by settle %s, this is settle %s: the set may differ", path,
			    rf->settle_version, SETTLE_VERSION);
	if (ctx->config_path)
		log_warning("--config is ignored: a rerun uses the configuration recorded in %s", path);
	if (report_check_inputs(ctx, rf, e) < 0) {
		report_runfile_release(rf);
		return -1;
	}
	return 0;
}

/* SPEC §7: settle rerun --run DIR/run.csv --out DIR2 → DIR2/YYYY-MM, byte for byte DIR's set. */
int cmd_rerun(struct settle_ctx *ctx, int argc, char **argv)
{
	const char *run = NULL, *out = NULL;
	const struct cli_opt opts[] = { { "run", &run, NULL }, { "out", &out, NULL }, { NULL, NULL, NULL } };
	int first, pr = cli_parse("rerun", argc, argv, opts, 0, 0, &first);
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	if (!run || !out)
		return cli_usage_error("rerun", CLI_REQUIRED, !run ? "--run" : "--out");
	struct err e = { 0 };
	struct report_runfile rf;
	if (report_load_run(ctx, run, &rf, &e) < 0)
		return report_fail(&e);
	struct report_stage st;
	struct report_job_result res;
	int rc = report_run_one(ctx, "rerun", &rf.cfg, rf.period, &rf.as_of_us, 1, out,
				rf.restated ? REPORT_CLOSE_AGAINST : REPORT_CLOSE_IGNORE, rf.closed_as_of_us, &st, &res,
				0, &e);
	if (rc == 0)
		report_done(out, rf.period, rf.as_of_us, &res, &st);
	report_runfile_release(&rf);
	return rc < 0 ? report_fail(&e) : EXIT_DONE;
}

/* ---------------------------------------------------------------------------------------------
 * verify
 */

struct report_manifest_entry {
	char hex[DIGEST_HEX_LEN + 1];
	char name[256];
};

/* Parses "hex  name" lines. Names must be plain file names: verify opens them inside DIR. */
static int report_manifest_read(const char *path, struct report_manifest_entry *v, size_t *n, struct err *e)
{
	char *buf;
	size_t len;
	if (report_read_file(path, REPORT_MANIFEST_MAX, &buf, &len, e) < 0)
		return -1;
	int rc = 0, line = 0;
	*n = 0;
	for (char *p = buf, *nl; *p; p = nl + 1) {
		line++;
		nl = strchr(p, '\n');
		if (!nl) {
			rc = err_set(e, EXIT_USAGE, "%s:%d: the last line has no newline", path, line);
			break;
		}
		*nl = '\0';
		char *name = p + DIGEST_HEX_LEN + 2;
		size_t nlen = (size_t)(nl - p) > DIGEST_HEX_LEN + 2 ? strlen(name) : 0;
		if (strspn(p, "0123456789abcdef") != DIGEST_HEX_LEN || p[DIGEST_HEX_LEN] != ' ' ||
		    p[DIGEST_HEX_LEN + 1] != ' ' || nlen == 0 || nlen >= sizeof v->name || name[0] == '.' ||
		    strchr(name, '/') || *n == REPORT_MANIFEST_ENTRIES_MAX) {
			rc = err_set(e, EXIT_USAGE, "%s:%d: not a \"sha256  name\" line of a report set", path, line);
			break;
		}
		memcpy(v[*n].hex, p, DIGEST_HEX_LEN);
		v[*n].hex[DIGEST_HEX_LEN] = '\0';
		memcpy(v[*n].name, name, nlen + 1);
		(*n)++;
	}
	free(buf);
	return rc;
}

/* The SHA-256 of dir/name into hex, or "" when it cannot be read. */
static void report_hash_or_empty(const char *dir, const char *name, char hex[DIGEST_HEX_LEN + 1])
{
	char path[REPORT_PATH_MAX];
	hex[0] = '\0';
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return;
	if (digest_file(path, hex, NULL) < 0)
		hex[0] = '\0';
}

/* Prints one line per file ("name: OK" / "name: FAILED (why)") and returns how many failed:
 * a file in DIR must match MANIFEST (it was not changed), and the rerun must produce exactly the
 * MANIFEST's files with its hashes (the numbers are reproducible). */
static int report_verify_compare(const char *dir, const char *staged, const struct report_manifest_entry *m,
				 size_t n)
{
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		char have[DIGEST_HEX_LEN + 1], again[DIGEST_HEX_LEN + 1];
		report_hash_or_empty(dir, m[i].name, have);
		report_hash_or_empty(staged, m[i].name, again);
		const char *why = NULL;
		if (!have[0])
			why = "missing from the directory";
		else if (strcmp(have, m[i].hex) != 0)
			why = "the file does not match MANIFEST: it was changed after it was written";
		else if (!again[0])
			why = "the rerun did not produce it";
		else if (strcmp(again, m[i].hex) != 0)
			why = "the rerun produced different content";
		if (why) {
			printf("%s: FAILED (%s)\n", m[i].name, why);
			failed++;
		} else {
			printf("%s: OK\n", m[i].name);
		}
	}
	DIR *d = opendir(staged);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, REPORT_MANIFEST) == 0)
			continue;
		size_t i;
		for (i = 0; i < n && strcmp(m[i].name, de->d_name) != 0; i++)
			;
		if (i == n) {
			printf("%s: FAILED (the rerun produced it, MANIFEST does not list it)\n", de->d_name);
			failed++;
		}
	}
	if (d)
		closedir(d);
	fflush(stdout);
	return failed;
}

/* SPEC §7: settle verify DIR — rerun DIR's period at its as-of into a temporary directory and
 * compare every file with DIR/MANIFEST. Exit 0 only when everything matches. */
int cmd_verify(struct settle_ctx *ctx, int argc, char **argv)
{
	int first, pr = cli_parse("verify", argc, argv, NULL, 1, 1, &first);
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	const char *dir = argv[first];
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return cli_usage_error("verify", "\"%s\" is not a directory", dir);
	ctx->open_existing = 1; /* SPEC §7: a command that only reads creates no database */
	struct err e = { 0 };
	char path[REPORT_PATH_MAX];
	struct report_manifest_entry m[REPORT_MANIFEST_ENTRIES_MAX];
	size_t n;
	struct report_runfile rf;
	snprintf(path, sizeof path, "%s/%s", dir, REPORT_MANIFEST);
	if (report_manifest_read(path, m, &n, &e) < 0)
		return report_fail(&e);
	snprintf(path, sizeof path, "%s/%s", dir, REPORT_RUN_CSV);
	if (report_load_run(ctx, path, &rf, &e) < 0)
		return report_fail(&e);
	const char *tmpdir = getenv("TMPDIR");
	char root[REPORT_PATH_MAX];
	snprintf(root, sizeof root, "%s/settle-verify-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(root)) {
		report_runfile_release(&rf);
		err_set(&e, EXIT_FAILED, "could not create a temporary directory \"%s\": %s", root, strerror(errno));
		return report_fail(&e);
	}
	struct report_stage st;
	struct report_job_result res;
	int rc = report_run_one(ctx, "verify", &rf.cfg, rf.period, &rf.as_of_us, 1, root,
				rf.restated ? REPORT_CLOSE_AGAINST : REPORT_CLOSE_IGNORE, rf.closed_as_of_us, &st, &res,
				1, &e);
	int failed = 0;
	if (rc == 0) {
		char staged[REPORT_PATH_MAX];
		report_stage_path(&st, staged);
		failed = report_verify_compare(dir, staged, m, n);
		report_stage_discard(&st);
	}
	if (rmdir(root) != 0)
		log_warning("could not remove \"%s\": %s", root, strerror(errno));
	report_runfile_release(&rf);
	if (rc < 0)
		return report_fail(&e);
	if (failed) {
		log_error("%d of %zu files of \"%s\" differ", failed, n, dir);
		return EXIT_FAILED;
	}
	log_summary("all %zu files of \"%s\" verified", n, dir);
	return EXIT_DONE;
}
