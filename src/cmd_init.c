/* cmd_init.c — `settle init`: create or migrate the schema. */
#include <stdio.h>

#include "cli.h"
#include "log.h"
#include "run.h"
#include "settle.h"

/* SPEC §7: create or migrate the schema; idempotent. */
int cmd_init(struct settle_ctx *ctx, int argc, char **argv)
{
	int first, pr = cli_parse("init", argc, argv, NULL, 0, 0, &first);
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	struct err e = { 0 };
	struct db *db;
	int version;
	if (settle_db(ctx, &db, &e) < 0 || (version = db_schema_version(db, &e)) < 0) {
		log_error("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_FAILED;
	}
	log_summary("schema version %d ready (%s)", version, db_where(db));
	return EXIT_DONE;
}
