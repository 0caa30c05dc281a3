/* run.c — the frame every command shares (see run.h): the database opened and migrated once. */
#include "run.h"

#include <stdio.h>

#include "reconcile_io.h"
#include "timeutil.h"

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

struct config_text {
	char buf[4096];
	size_t len;
};

static void config_line(const char *key, const char *value, void *arg)
{
	struct config_text *t = arg;
	int n = snprintf(t->buf + t->len, sizeof t->buf - t->len, "%s=%s\n", key, value);
	if (n > 0)
		t->len += (size_t)n < sizeof t->buf - t->len ? (size_t)n : sizeof t->buf - t->len - 1;
}

int run_create(struct db *db, const char *command, int64_t as_of_us, const struct config *cfg, int64_t *run_id,
	       struct err *e)
{
	struct config_text t = { .len = 0 };
	t.buf[0] = '\0';
	config_each(cfg, config_line, &t);
	int version = db_schema_version(db, e);
	if (version < 0)
		return -1;
	char as_of[40], ver[16];
	time_format_pg(as_of_us, as_of);
	snprintf(ver, sizeof ver, "%d", version);
	const char *params[] = { command, as_of, SETTLE_VERSION, ver, t.buf };
	PGresult *res = db_query(db,
				 "INSERT INTO settle.run (command, as_of, started_at, settle_version, schema_version, config)"
				 " VALUES ($1, $2::timestamptz, clock_timestamp(), $3, $4::int, $5) RETURNING run_id",
				 5, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rc = rio_i64(PQgetvalue(res, 0, 0), run_id);
	PQclear(res);
	if (rc < 0)
		return err_set(e, EXIT_FAILED, "database: run_id is not an integer");
	return 0;
}
