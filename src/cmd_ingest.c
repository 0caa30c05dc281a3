/* cmd_ingest.c — `settle ingest FILE...` (SPEC §7): the command line, one ingest_file per FILE
 * (ingest.c), the per-file summary lines and the exit code.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "feed.h"
#include "ingest.h"
#include "log.h"
#include "msg.h"
#include "run.h"
#include "settle.h"

/* Every FILE must be a readable regular file before anything is loaded (a FIFO is refused
 * without blocking on it), and its name valid UTF-8: the ledger records it as text, which the
 * database refuses otherwise (nightly's walk sets such names aside the same way, inbox.h). */
static int ingest_check_files(int n, char **files)
{
	for (int i = 0; i < n; i++) {
		struct stat sb;
		struct err e = { 0 };
		if (feed_utf8_invalid_at(files[i], strlen(files[i])) >= 0) {
			log_error("\"%s\": the name is not valid UTF-8; settle records file names as text (rename it)",
				  files[i]);
			return -1;
		}
		FILE *f = ingest_open_regular(files[i], &sb, &e);
		if (!f) {
			log_error("%s", e.msg);
			return -1;
		}
		fclose(f);
	}
	return 0;
}

static void ingest_summary(const char *path, const struct ingest_result *r)
{
	if (r->already_ingested || r->file_rejected)
		return; /* said already */
	char unchanged[48] = "";
	if (r->rows_unchanged)
		snprintf(unchanged, sizeof unchanged, ", %" PRId64 " unchanged", r->rows_unchanged);
	char appended[64] = "";
	if (r->prefix_bytes) /* SPEC §3: only the records after the earlier ingest's bytes */
		snprintf(appended, sizeof appended, " (appended from line %" PRId64 ")", r->line_first);
	log_info("%s: %s, file %" PRId64 ": %" PRId64 " row%s loaded%s, %" PRId64 " rejected%s", ingest_base_name(path),
		 r->kind, r->file_id, r->rows_loaded, r->rows_loaded == 1 ? "" : "s", unchanged, r->rows_rejected,
		 appended);
}

int cmd_ingest(struct settle_ctx *ctx, int argc, char **argv)
{
	struct ingest_options o = { .msg = &msg_log };
	const struct cli_opt opts[] = { { "kind", &o.kind, NULL }, { "recipient", &o.recipient, NULL }, { NULL, NULL, NULL } };
	int first = 1, pr = cli_parse("ingest", argc, argv, opts, 1, -1, &first); /* first: the first FILE */
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	if (o.kind && !feed_kind_by_name(o.kind))
		return cli_usage_error("ingest", "unknown kind \"%s\" (known: %s)", o.kind, feed_kind_names());
	/* SPEC §7: a missing input file is a usage error, in every command */
	if (ingest_check_files(argc - first, argv + first) < 0)
		return EXIT_USAGE;

	struct err e = { 0 };
	struct db *db;
	if (run_open_locked(ctx, &db, &e) < 0) {
		log_error("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_FAILED;
	}
	int quarantined = 0, committed = 0;
	for (int i = first; i < argc; i++) {
		struct ingest_result r;
		if (ingest_file(db, argv[i], &o, &r, &e) < 0) {
			log_error("%s", e.msg);
			if (i + 1 < argc)
				log_error("%d later file%s not read", argc - i - 1, argc - i - 1 == 1 ? "" : "s");
			if (!committed) /* SPEC §7: failed, nothing committed (the files before, if any,
					 * were in the ledger already) */
				return e.exit_code ? e.exit_code : EXIT_FAILED;
			/* Each FILE is its own transaction, so the files this command loaded before this
			 * one are committed: not "failed, nothing committed" (1) but partly done (5), as
			 * nightly ends when an inbox file fails (README "Exit codes"). The later files are
			 * not read: the ledger's order is the order given ("latest ingested", SPEC §6),
			 * so they wait for the run that ingests this one first. An interruption keeps
			 * 130/143. */
			log_error("the files before \"%s\" are ingested; ingesting again skips them", argv[i]);
			return e.exit_code == 0 || e.exit_code == EXIT_FAILED ? EXIT_PARTIAL : e.exit_code;
		}
		if (!r.already_ingested) /* loaded, or recorded as rejected whole: in the ledger now */
			committed = 1;
		ingest_summary(argv[i], &r);
		if (r.rows_rejected > 0 || r.file_rejected)
			quarantined = 1;
	}
	/* SPEC §7: 4 = done, but input rows were quarantined. */
	return quarantined ? EXIT_QUARANTINED : EXIT_DONE;
}
