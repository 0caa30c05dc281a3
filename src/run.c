/* run.c — the frame every command shares (see run.h): the database opened and migrated once. */
#include "run.h"

#include <stdio.h>

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
