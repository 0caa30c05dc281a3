/* cmd_init.c — `settle init` and the lazily opened database every command shares. */
#include <stdio.h>

#include "cli.h"
#include "log.h"
#include "settle.h"

int settle_db(struct settle_ctx *ctx, struct db **out, struct err *e)
{
	if (!ctx->db) {
		struct db *db = NULL;
		if (db_open_ex(ctx->db_conninfo, ctx->open_existing, &db, e) < 0)
			return -1;
		if (db_migrate(db, e) < 0) {
			db_close(db);
			return -1;
		}
		ctx->db = db; /* owned by the context from here on; main closes it */
	}
	*out = ctx->db;
	return 0;
}

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
