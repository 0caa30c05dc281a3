/* run.h — the frame every command shares: the database opened and migrated on first need. */
#ifndef SETTLE_RUN_H
#define SETTLE_RUN_H

#include "settle.h"

/* Opens the database (once), applies migrations, and returns it. */
int settle_db(struct settle_ctx *ctx, struct db **out, struct err *e);

/* Inserts a settle.run row (command, as_of, config, version, schema version) and returns its id. */
int run_create(struct db *db, const char *command, int64_t as_of_us, const struct config *cfg,
	       int64_t *run_id, struct err *e);

#endif
