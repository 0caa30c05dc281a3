/* run.h — the frame every command shares: the database opened and migrated on first need. */
#ifndef SETTLE_RUN_H
#define SETTLE_RUN_H

#include "settle.h"

/* Opens the database (once), applies migrations, and returns it. */
int settle_db(struct settle_ctx *ctx, struct db **out, struct err *e);

#endif
