/* cmd_reconcile.c — `settle reconcile --period YYYY-MM [--as-of TS]` (SPEC §7): one run of one
 * period (reconcile_period, reconcile.c) in one transaction; its counts on stdout.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "log.h"
#include "msg.h"
#include "reconcile.h"
#include "run.h"
#include "settle.h"
#include "timeutil.h"

int cmd_reconcile(struct settle_ctx *ctx, int argc, char **argv)
{
	const char *period_arg = NULL, *as_of_arg = NULL;
	const struct cli_opt opts[] = { { "period", &period_arg, NULL }, { "as-of", &as_of_arg, NULL }, { NULL, NULL, NULL } };
	int first, pr = cli_parse("reconcile", argc, argv, opts, 0, 0, &first);
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	int32_t period;
	int64_t as_of_us = 0;
	if (cli_period_as_of("reconcile", period_arg, as_of_arg, &period, &as_of_us) < 0)
		return EXIT_USAGE;

	struct err e = { 0 };
	struct db *db;
	int64_t run_id;
	struct reconcile_summary sum = { 0 };
	if (run_open_locked(ctx, &db, &e) < 0)
		goto fail;
	if (db_begin(db, &e) < 0)
		goto fail;
	if ((!as_of_arg && run_db_now_us(db, &as_of_us, &e) < 0) ||
	    run_create(db, "reconcile", as_of_us, &ctx->config, &run_id, &e) < 0 ||
	    reconcile_period(db, &ctx->config, run_id, period, as_of_us, &msg_log, &sum, &e) < 0 || db_commit(db, &e) < 0)
		goto fail;
	char as_of_text[32];
	time_format(as_of_us, as_of_text);
	printf("reconcile %s as of %s: run %" PRId64 ": %" PRId64 " charge groups, %" PRId64 " allocated, %" PRId64
	       " exceptions, %" PRId64 " payouts\n",
	       period_arg, as_of_text, run_id, sum.groups, sum.allocated, sum.exceptions, sum.payouts);
	if (fflush(stdout) != 0) {
		log_error("could not write the summary: standard output failed");
		return EXIT_FAILED;
	}
	return EXIT_DONE;
fail:
	if (ctx->db)
		db_rollback(ctx->db);
	log_error("%s", e.msg);
	return e.exit_code ? e.exit_code : EXIT_FAILED;
}
