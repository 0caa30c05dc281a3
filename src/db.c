/* db.c — the PostgreSQL connection of a command (see db.h). */
#include "db.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "pgembed.h"
#include "schema.h"
#include "signals.h"

/* Advisory lock keys (arbitrary constants, fixed forever: changing one would let an old and a new
 * settle run at once). */
#define DB_LOCK_RUN INT64_C(7271652401)
#define DB_LOCK_MIGRATE INT64_C(7271652402)
#define DB_MIGRATION_RETRACT 13 /* sql/013_retract.sql defines settle.visibility_rewrite() */

struct db {
	PGconn *conn;            /* owned */
	struct pgembed *embed;   /* owned; NULL when not the embedded default */
	char where[512];
};

/* The libpq environment that, when set, means "the user configured a database" (SPEC §7). */
static const char *const db_libpq_env[] = { "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE",
					    "PGUSER", "PGSERVICE", "PGSERVICEFILE", NULL };

static int db_env_configured(void)
{
	for (size_t i = 0; db_libpq_env[i]; i++) {
		const char *v = getenv(db_libpq_env[i]);
		if (v && *v)
			return 1;
	}
	return 0;
}

/* Session settings that make results independent of the server's configuration (SPEC §6). */
static const char db_session_sql[] =
	"SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601';"
	"SET client_encoding = 'UTF8'; SET search_path = settle, pg_catalog;"
	"SET client_min_messages = warning; SET application_name = 'settle';"
	/* A settle killed mid-query must not hold the run lock until the query ends: the server
	 * checks every second whether the client is still there and aborts the query if not. */
	"SET client_connection_check_interval = '1s';"
	/* settle's big queries scan once: JIT compilation costs seconds and buys nothing here. */
	"SET jit = off;"
	/* Reconcile's temporary table of a month's events is ~150 MB: with the default 8MB of
	 * temp_buffers every page of it goes through the kernel twice. Memory of the server
	 * session, used only as the temporary tables grow; it must be set before the first one. */
	"SET temp_buffers = '256MB'";

int db_open(const char *conninfo, struct db **out, struct err *e)
{
	return db_open_ex(conninfo, 0, out, e);
}

int db_open_ex(const char *conninfo, int existing_only, struct db **out, struct err *e)
{
	struct db *db = calloc(1, sizeof *db);
	if (!db)
		return err_set(e, EXIT_FAILED, "out of memory");
	char embedded_conninfo[1024];
	const char *ci = conninfo;
	if (!ci || !*ci) {
		const char *env = getenv("SETTLE_DB");
		if (env && *env) {
			ci = env;
			snprintf(db->where, sizeof db->where, "SETTLE_DB");
		} else if (db_env_configured()) {
			ci = "";
			snprintf(db->where, sizeof db->where, "the libpq environment");
		} else {
			const char *home = getenv("SETTLE_HOME");
			if (!home || !*home)
				home = "./var";
			char data[4096];
			struct stat sb;
			snprintf(data, sizeof data, "%s/pg/data/PG_VERSION", home);
			if (existing_only && stat(data, &sb) != 0) {
				err_set(e, EXIT_USAGE,
					"no database: the embedded default %s/pg does not exist (run \"settle init\" to"
					" create it, or give --db or SETTLE_DB)", home);
				goto fail;
			}
			if (pgembed_acquire(home, &db->embed, embedded_conninfo, sizeof embedded_conninfo, e) < 0)
				goto fail;
			ci = embedded_conninfo;
			snprintf(db->where, sizeof db->where, "embedded cluster %s/pg", home);
		}
	} else {
		snprintf(db->where, sizeof db->where, "--db");
	}
	db->conn = PQconnectdb(ci);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		err_set(e, EXIT_FAILED, "could not connect to the database (%s): %s", db->where,
			PQerrorMessage(db->conn));
		goto fail;
	}
	signals_watch(db->conn); /* signals.h: SIGINT/SIGTERM cancel the running query */
	if (db_exec(db, db_session_sql, e) < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	db_close(db);
	return -1;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->conn) {
		signals_watch(NULL);
		PQfinish(db->conn);
	}
	pgembed_release(db->embed);
	free(db);
}

PGconn *db_conn(struct db *db)
{
	return db->conn;
}

const char *db_where(const struct db *db)
{
	return db->where;
}

static int db_result_error(struct db *db, PGresult *res, struct err *e)
{
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
	if (!msg || !*msg)
		msg = PQerrorMessage(db->conn);
	return err_set(e, EXIT_FAILED, "database: %s", msg);
}

int db_exec(struct db *db, const char *sql, struct err *e)
{
	char state[6];
	return db_exec_state(db, sql, state, e);
}

int db_exec_state(struct db *db, const char *sql, char state[6], struct err *e)
{
	state[0] = '\0';
	if (signals_check(e) < 0) /* after SIGINT/SIGTERM nothing new starts (signals.h) */
		return -1;
	PGresult *res = PQexec(db->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;
	state[0] = '\0';
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		if (code && strlen(code) == 5)
			memcpy(state, code, 6);
		rc = db_result_error(db, res, e);
	}
	PQclear(res);
	return rc;
}

PGresult *db_query(struct db *db, const char *sql, int nparams, const char *const *params,
		   ExecStatusType expected, struct err *e)
{
	if (signals_check(e) < 0)
		return NULL;
	PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != expected) {
		db_result_error(db, res, e);
		PQclear(res);
		return NULL;
	}
	return res;
}

int db_query_bool(struct db *db, const char *sql, int nparams, const char *const *params, int *out,
		  struct err *e)
{
	*out = 0;
	PGresult *res = db_query(db, sql, nparams, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rc = 0;
	if (PQntuples(res) != 1 || PQnfields(res) != 1)
		rc = err_set(e, EXIT_FAILED, "database: expected one value, got %d rows of %d columns", PQntuples(res),
			     PQnfields(res));
	else
		*out = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

int db_batch_settings(struct db *db, struct err *e)
{
	/* JIT compilation costs seconds on these one-off queries and buys nothing; sorts and hashes of
	 * a month's events fit in memory with a larger work_mem; the metering month is a few hundred
	 * thousand groups of millions of rows, which the default parallel costs judge not worth
	 * splitting (it is, twice as fast on two cores, once the as-of functions are PARALLEL SAFE).
	 * All only for this transaction. */
	return db_exec(db,
		       "SET LOCAL jit = off; SET LOCAL work_mem = '256MB';"
		       "SET LOCAL parallel_setup_cost = 100; SET LOCAL parallel_tuple_cost = 0.001",
		       e);
}

int db_begin(struct db *db, struct err *e)
{
	return db_exec(db, "BEGIN", e);
}

int db_commit(struct db *db, struct err *e)
{
	/* Interrupted (signals.h): roll back instead, the caller sees a failure. */
	if (signals_check(e) < 0) {
		db_rollback(db);
		return -1;
	}
	/* A COMMIT of an aborted transaction "succeeds" as ROLLBACK: check what the server did. */
	PGresult *res = PQexec(db->conn, "COMMIT");
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = db_result_error(db, res, e);
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		rc = err_set(e, EXIT_FAILED, "database: the transaction was rolled back instead of committed");
	PQclear(res);
	return rc;
}

void db_rollback(struct db *db)
{
	if (!db || !db->conn)
		return;
	PGTransactionStatusType ts = PQtransactionStatus(db->conn);
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
		PQclear(PQexec(db->conn, "ROLLBACK"));
}

int db_lock_run(struct db *db, struct err *e)
{
	char key[32];
	snprintf(key, sizeof key, "%lld", (long long)DB_LOCK_RUN);
	const char *params[] = { key };
	int got;
	if (db_query_bool(db, "SELECT pg_try_advisory_lock($1::bigint)", 1, params, &got, e) < 0)
		return -1;
	if (!got)
		return err_set(e, EXIT_LOCKED,
			       "another settle run holds the lock on this database; try again when it has finished");
	return 0;
}

int db_copy_begin(struct db *db, const char *copy_sql, struct err *e)
{
	if (signals_check(e) < 0)
		return -1;
	PGresult *res = PQexec(db->conn, copy_sql);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COPY_IN)
		rc = db_result_error(db, res, e);
	PQclear(res);
	return rc;
}

int db_copy_put(struct db *db, const char *buf, size_t len, struct err *e)
{
	while (len > 0) {
		/* PQputCopyData takes an int length: feed very large buffers in slices. */
		int n = len > (1u << 30) ? (1 << 30) : (int)len;
		if (PQputCopyData(db->conn, buf, n) != 1)
			return err_set(e, EXIT_FAILED, "database: could not send COPY data: %s",
				       PQerrorMessage(db->conn));
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Drains the results after PQputCopyEnd; the COPY's own result tells whether the server took it. */
static int db_copy_finish(struct db *db, struct err *e)
{
	int rc = 0;
	PGresult *res;
	while ((res = PQgetResult(db->conn)) != NULL) {
		if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = db_result_error(db, res, e);
		PQclear(res);
	}
	return rc;
}

int db_copy_end(struct db *db, struct err *e)
{
	if (PQputCopyEnd(db->conn, NULL) != 1)
		return err_set(e, EXIT_FAILED, "database: could not end COPY: %s", PQerrorMessage(db->conn));
	return db_copy_finish(db, e);
}

void db_copy_abort(struct db *db, const char *why)
{
	if (PQputCopyEnd(db->conn, why ? why : "aborted by settle") == 1)
		db_copy_finish(db, NULL);
}

int db_schema_version(struct db *db, struct err *e)
{
	PGresult *res = db_query(db,
				 "SELECT coalesce(max(version), 0) FROM settle.schema_migration", 0, NULL,
				 PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* One migration in its own transaction, skipped if already recorded. Concurrent settle commands
 * serialise on the migration lock, so the second sees the first's row and skips. */
static int db_apply_migration(struct db *db, const struct schema_migration *m, struct err *e)
{
	char lock[32], version[16];
	snprintf(lock, sizeof lock, "%lld", (long long)DB_LOCK_MIGRATE);
	snprintf(version, sizeof version, "%d", m->version);
	const char *lock_params[] = { lock };
	const char *v_params[] = { version, m->name };
	PGresult *res = NULL;
	if (db_begin(db, e) < 0)
		return -1;
	res = db_query(db, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock_params, PGRES_TUPLES_OK, e);
	if (!res)
		goto rollback;
	PQclear(res);
	res = db_query(db, "SELECT 1 FROM settle.schema_migration WHERE version = $1::int", 1, v_params,
		       PGRES_TUPLES_OK, e);
	if (!res)
		goto rollback;
	int done = PQntuples(res) > 0;
	PQclear(res);
	if (done) {
		db_rollback(db);
		return 0;
	}
	if (db_exec(db, m->sql, e) < 0) {
		err_prefix(e, "migration %s", m->name);
		goto rollback;
	}
	/* sql/013_retract.sql: an as-of function a later migration writes with the bare ledger test
	 * gets the retraction test added, in the same transaction (settle.visibility_rewrite). */
	if (m->version > DB_MIGRATION_RETRACT && db_exec(db, "SELECT settle.visibility_rewrite()", e) < 0) {
		err_prefix(e, "migration %s: adding the retraction test", m->name);
		goto rollback;
	}
	res = db_query(db, "INSERT INTO settle.schema_migration (version, name, applied_at) VALUES ($1::int, $2, now())",
		       2, v_params, PGRES_COMMAND_OK, e);
	if (!res)
		goto rollback;
	PQclear(res);
	return db_commit(db, e);
rollback:
	db_rollback(db);
	return -1;
}

/* 1 when every compiled-in migration is recorded, 0 when one is not (or the table is missing),
 * -1 with e filled. Rows of schema_migration are only ever added, each by a committed migration,
 * so a count equal to the number of compiled-in versions is final and needs no lock: this is the
 * common case (every command of every night), two round trips instead of four per migration. */
static int db_schema_current(struct db *db, struct err *e)
{
	int exists = 0;
	if (db_query_bool(db, "SELECT to_regclass('settle.schema_migration') IS NOT NULL", 0, NULL, &exists, e) < 0)
		return -1;
	if (!exists)
		return 0;
	/* "{1,2,...}": at most a few hundred versions of at most 10 digits each */
	char versions[4096];
	size_t used = 0;
	versions[used++] = '{';
	for (size_t i = 0; i < schema_migrations_n; i++) {
		int n = snprintf(versions + used, sizeof versions - used, "%s%d", i ? "," : "",
				 schema_migrations[i].version);
		if (n < 0 || (size_t)n >= sizeof versions - used - 1)
			return 0; /* too many to list: let the per-migration path decide */
		used += (size_t)n;
	}
	versions[used++] = '}';
	versions[used] = '\0';
	char want[24];
	snprintf(want, sizeof want, "%zu", schema_migrations_n);
	const char *params[] = { versions, want };
	int current = 0;
	if (db_query_bool(db,
			  "SELECT count(*) = $2::bigint FROM settle.schema_migration WHERE version = ANY ($1::int[])",
			  2, params, &current, e) < 0)
		return -1;
	return current;
}

int db_migrate(struct db *db, struct err *e)
{
	int current = db_schema_current(db, e);
	if (current != 0)
		return current < 0 ? -1 : 0;
	/* The bookkeeping table itself is created idempotently; IF NOT EXISTS can still race between
	 * two sessions, so it too runs under the migration lock. */
	char lock[32];
	snprintf(lock, sizeof lock, "%lld", (long long)DB_LOCK_MIGRATE);
	const char *params[] = { lock };
	if (db_begin(db, e) < 0)
		return -1;
	PGresult *res = db_query(db, "SELECT pg_advisory_xact_lock($1::bigint)", 1, params, PGRES_TUPLES_OK, e);
	if (!res)
		goto rollback;
	PQclear(res);
	if (db_exec(db,
		    "CREATE SCHEMA IF NOT EXISTS settle;"
		    "CREATE TABLE IF NOT EXISTS settle.schema_migration ("
		    " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)",
		    e) < 0)
		goto rollback;
	if (db_commit(db, e) < 0)
		return -1;
	for (size_t i = 0; i < schema_migrations_n; i++)
		if (db_apply_migration(db, &schema_migrations[i], e) < 0)
			return -1;
	return 0;
rollback:
	db_rollback(db);
	return -1;
}

