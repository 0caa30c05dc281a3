/* settle.h — what every command gets: parsed global options, the configuration, and the database
 * opened on first need. main.c owns the context; commands borrow it. */
#ifndef SETTLE_SETTLE_H
#define SETTLE_SETTLE_H

#include "config.h"
#include "db.h"
#include "err.h"
#include "version.h"

struct settle_ctx {
	const char *db_conninfo; /* --db, or NULL (then SETTLE_DB, libpq env, embedded) */
	const char *config_path; /* --config, or NULL */
	struct config config;
	struct db *db;           /* NULL until settle_db() opens it; closed by main */
	int quiet;               /* --quiet (SPEC §7) */
	int open_existing;       /* a command that only reads: never create the embedded default */
};

/* The commands (SPEC §7). Each parses its own options from argv (argv[0] is the command name),
 * prints its own errors, and returns a process exit code (enum settle_exit). */
int cmd_init(struct settle_ctx *ctx, int argc, char **argv);
int cmd_ingest(struct settle_ctx *ctx, int argc, char **argv);
int cmd_reconcile(struct settle_ctx *ctx, int argc, char **argv);
int cmd_report(struct settle_ctx *ctx, int argc, char **argv);
int cmd_nightly(struct settle_ctx *ctx, int argc, char **argv);
int cmd_rerun(struct settle_ctx *ctx, int argc, char **argv);
int cmd_verify(struct settle_ctx *ctx, int argc, char **argv);
int cmd_retract(struct settle_ctx *ctx, int argc, char **argv);
int cmd_status(struct settle_ctx *ctx, int argc, char **argv);
int cmd_check(struct settle_ctx *ctx, int argc, char **argv);
int cmd_close(struct settle_ctx *ctx, int argc, char **argv);

#endif
