/* db.h — the one PostgreSQL connection of a command.
 *
 * db_open picks the database as SPEC §7 says: the conninfo given (--db), else SETTLE_DB, else the
 * libpq environment (PGHOST, PGHOSTADDR, PGPORT, PGDATABASE, PGUSER, PGSERVICE), else the embedded
 * default cluster under $SETTLE_HOME/pg (pgembed.h), started for this command and stopped by
 * db_close. Every session runs with TimeZone=UTC, DateStyle=ISO, client_encoding=UTF8 and
 * search_path=settle, so nothing depends on the server's defaults.
 *
 * Query helpers take the result status they expect, as pg_dump's do: anything else becomes an
 * err with the server's message. SQL text is always a constant; values travel as parameters or
 * through COPY, never spliced into SQL.
 */
#ifndef SETTLE_DB_H
#define SETTLE_DB_H

#include <libpq-fe.h>

#include "err.h"

struct db;

/* Opens (and, for the embedded default, starts) the database. conninfo may be NULL.
 * On success *out is owned by the caller and released with db_close. */
int db_open(const char *conninfo, struct db **out, struct err *e);
/* The same; with existing_only, an embedded default that does not exist yet is not created but
 * an EXIT_USAGE error (SPEC §7: status, verify and check never create a database). */
int db_open_ex(const char *conninfo, int existing_only, struct db **out, struct err *e);
/* Closes the connection and stops an embedded server this command started. NULL is fine. */
void db_close(struct db *db);

PGconn *db_conn(struct db *db);
/* A short description of where we are connected, for logs ("embedded cluster var/pg"). */
const char *db_where(const struct db *db);

/* Runs one constant statement without parameters; expects PGRES_COMMAND_OK or PGRES_TUPLES_OK. */
int db_exec(struct db *db, const char *sql, struct err *e);
/* The same; on failure state gets the SQLSTATE ("23505"), "" when the server sent none. */
int db_exec_state(struct db *db, const char *sql, char state[6], struct err *e);

/* Runs sql with text parameters (NULL entries are SQL NULL) and checks the result status.
 * Returns the result (caller PQclear()s it) or NULL with e filled. */
PGresult *db_query(struct db *db, const char *sql, int nparams, const char *const *params,
		   ExecStatusType expected, struct err *e);

/* Runs a query of one boolean value (one row, one column) and sets *out to it (NULL: false).
 * Returns 0, or -1 with e filled. */
int db_query_bool(struct db *db, const char *sql, int nparams, const char *const *params, int *out,
		  struct err *e);

/* The planner settings of a transaction that runs a batch's large one-off queries (reconcile,
 * insights): no JIT, a larger work_mem, cheaper parallel plans; SET LOCAL, so only until the
 * transaction ends. */
int db_batch_settings(struct db *db, struct err *e);

int db_begin(struct db *db, struct err *e);
int db_commit(struct db *db, struct err *e);
/* Rolls back if a transaction is open; never fails loudly (used on error paths). */
void db_rollback(struct db *db);

/* SPEC §6: one run at a time per database. Takes the session-level advisory lock without
 * waiting; if another session holds it, fails with exit code EXIT_LOCKED. Released by db_close
 * (or by the server when the process dies). */
int db_lock_run(struct db *db, struct err *e);

/* COPY ... FROM STDIN: begin with the COPY statement, put whole lines (already escaped for COPY
 * text format), end checks the server's verdict. abort sends PQputCopyEnd with an error message
 * so the server discards everything. */
int db_copy_begin(struct db *db, const char *copy_sql, struct err *e);
int db_copy_put(struct db *db, const char *buf, size_t len, struct err *e);
int db_copy_end(struct db *db, struct err *e);
void db_copy_abort(struct db *db, const char *why);

/* Applies the compiled-in migrations (sql/NNN_*.sql) not yet applied, each in its own
 * transaction, under a migration advisory lock. Idempotent. */
int db_migrate(struct db *db, struct err *e);
/* The highest applied migration number, or -1 with e filled. */
int db_schema_version(struct db *db, struct err *e);

#endif
