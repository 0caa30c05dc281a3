/* asof.c — the current versions of the billing events at as-of, materialised once per
 * transaction into pg_temp.rc_be (asof.h: its columns, the contract its readers share). Reconcile
 * (reconcile.c, for its phases) and insights (insights.c, payment timing) both call down into
 * asof_current_events; neither builds the table for the other. The incremental path through
 * settle.rc_be_cache (sql/024) lives here too: it is a way of making the same table.
 */
#include "asof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"
#include "version.h"

/* The current versions of the billing events at as-of, narrowed to the columns SPEC §4 and the
 * payment-timing insights read (COLLECTED rows and action days are theirs), computed once per
 * as-of and transaction (nightly reconciles several periods at one as-of: the table is reused).
 * Written in the order of the charge-group stream (ASOF_BE_ORDER), so that the stream reads it
 * without sorting a million rows again (reconcile_groups.c). gh is the reference's hash of that
 * order. Days are UTC days since 1970-01-01 (sessions run with TimeZone=UTC).
 *
 * The rows are settle.billing_event_current's (sql/008), with the two small lists it reads made
 * ready first (rc_be_prepare_sql): the keys with versions, refreshed from the new files, and the
 * winners of those keys as of $1 in settle.rc_winner. After the refresh in this transaction no
 * file is uncovered, so a row is current when its key has no versions or it is its key's winner:
 * a scan with two hashed lookups, which PostgreSQL splits over its workers, each sorting its
 * share (a Gather Merge): 3.5-4.4 s -> about 2.5 s on 1M events.
 * SPEC §3.1, as read here (the stored rows stay as delivered): a DISBURSED line without a
 * reference takes its parent's (settle.rc_parent_ref, rc_parent_ref_sql), and a placeholder bank
 * trace id is none (settle.bank_trace_id). */
static const char rc_be_prepare_sql[] =
	"SELECT settle.billing_event_multi_refresh();"
	"ANALYZE settle.billing_event_multi;"
	"DELETE FROM settle.rc_winner; DELETE FROM settle.rc_parent_ref; DELETE FROM settle.rc_account;";
/* SPEC §1: one identity per account — the account map as of the run (sql/016). */
static const char rc_account_sql[] =
	"INSERT INTO settle.rc_account SELECT m.id, m.account_key FROM settle.account_map($1::timestamptz) m";
static const char rc_winner_sql[] =
	"INSERT INTO settle.rc_winner SELECT w.file_id, w.line FROM settle.billing_event_winners($1::timestamptz) w"
	" WHERE NOT w.deleted";
/* SPEC §3.1: a DISBURSED line without transaction_reference_id takes the reference of the event
 * its parent_billing_event_id names, which may have come in another file: the current versions
 * (same predicate as rc_be_sql) of the parents such lines name, into settle.rc_parent_ref
 * (sql/009): one scan of the events with a hash of the parents' ids. The lines come from a partial
 * index that holds only them, and without any (the usual case) nothing is scanned at all
 * (rc_parent_ref_needed_sql). */
static const char rc_parent_ref_needed_sql[] =
	"SELECT EXISTS (SELECT 1 FROM settle.billing_event c WHERE c.action = 'DISBURSED'"
	" AND c.transaction_reference_id IS NULL AND c.parent_billing_event_id IS NOT NULL)";
static const char rc_parent_ref_sql[] =
	"INSERT INTO settle.rc_parent_ref"
	" SELECT p.billing_event_id, p.transaction_reference_id FROM settle.billing_event p"
	" WHERE p.file_id IN (SELECT f.file_id FROM settle.ingest_file f WHERE f.file_id IN (SELECT v.file_id FROM settle.visible_files($1::timestamptz) v))"
	"   AND p.delete_date IS NULL AND p.transaction_reference_id IS NOT NULL"
	"   AND (p.billing_event_id NOT IN (SELECT k.billing_event_id FROM settle.billing_event_multi k)"
	"        OR (p.file_id, p.line) IN (SELECT w.file_id, w.line FROM settle.rc_winner w))"
	"   AND p.billing_event_id IN (SELECT c.parent_billing_event_id FROM settle.billing_event c"
	"       WHERE c.action = 'DISBURSED' AND c.transaction_reference_id IS NULL"
	"         AND c.parent_billing_event_id IS NOT NULL"
	"         AND c.file_id IN (SELECT f.file_id FROM settle.ingest_file f WHERE f.file_id IN (SELECT v.file_id FROM settle.visible_files($1::timestamptz) v)))";
/* The rows of rc_be; KEYS narrows them (rc_be_new_sql) or is "". Its columns are asof.h's: every
 * one written under its macro, the contract its readers share. */
#define RC_BE_ROWS(KEYS) \
	" SELECT hashtextextended(be." ASOF_BE_RECIPIENT " || chr(31) || be." ASOF_BE_TREF " || chr(31) || be." \
	ASOF_BE_CURRENCY ", 0) AS " ASOF_BE_GH ", be.*" \
	" FROM (" \
	" SELECT settle.account_ident(s.recipient_account_id, ar.account_key) AS " ASOF_BE_RECIPIENT "," \
	"        s.billing_event_id AS " ASOF_BE_ID "," \
	"        coalesce(s.transaction_reference_id, pr.transaction_reference_id, '') AS " ASOF_BE_TREF "," \
	"        s.currency AS " ASOF_BE_CURRENCY ", s.action AS " ASOF_BE_ACTION "," \
	"        s.transaction_type AS " ASOF_BE_TYPE "," \
	"        s.charge_side AS " ASOF_BE_SIDE ", s.amount_micros AS " ASOF_BE_AMOUNT "," \
	"        (s.invoice_date::date - DATE '1970-01-01') AS " ASOF_BE_DAY "," \
	"        (s.usage_period_start_date::date - DATE '1970-01-01') AS " ASOF_BE_USAGE_DAY "," \
	"        s.agreement_id AS " ASOF_BE_AGREEMENT ", s.offer_id AS " ASOF_BE_OFFER "," \
	"        s.product_id AS " ASOF_BE_PRODUCT "," \
	"        settle.account_ident(s.from_account_id, af.account_key) AS " ASOF_BE_FROM "," \
	"        s.disbursement_billing_event_id AS " ASOF_BE_DISB_ID "," \
	"        s.parent_billing_event_id AS " ASOF_BE_PARENT_ID "," \
	"        settle.bank_trace_id(s.bank_trace_id) AS " ASOF_BE_TRACE "," \
	"        (s.action_date::date - DATE '1970-01-01') AS " ASOF_BE_ACTION_DAY "," \
	"        s.line_item_id AS " ASOF_BE_LINE_ITEM ", s.invoice_id AS " ASOF_BE_INVOICE "," \
	"        s.disbursement_amount_micros AS " ASOF_BE_PAID_AMOUNT "," /* §4.5 */ \
	"        s.disbursement_currency AS " ASOF_BE_PAID_CURRENCY \
	" FROM settle.billing_event s" \
	" LEFT JOIN settle.rc_account ar ON ar.id = settle.account_pad(s.recipient_account_id)" \
	" LEFT JOIN settle.rc_account af ON af.id = settle.account_pad(s.from_account_id)" \
	" LEFT JOIN settle.rc_parent_ref pr ON s.transaction_reference_id IS NULL AND s.action = 'DISBURSED'" \
	"      AND pr.billing_event_id = s.parent_billing_event_id" \
	" WHERE s.file_id IN (SELECT v.file_id FROM settle.visible_files($1::timestamptz) v)" \
	"   AND s.delete_date IS NULL" \
	"   AND (s.billing_event_id NOT IN (SELECT k.billing_event_id FROM settle.billing_event_multi k)" \
	"        OR (s.file_id, s.line) IN (SELECT w.file_id, w.line FROM settle.rc_winner w))" \
	"   AND (s.action IN ('INVOICED', 'FORGIVEN', 'DISBURSED', 'COLLECTED')" \
	"        OR s.transaction_type = 'DISBURSEMENT_FAILURE')" KEYS \
	") be"
static const char rc_be_sql[] =
	"CREATE TEMP TABLE rc_be ON COMMIT DROP AS" RC_BE_ROWS("") " ORDER BY " ASOF_BE_ORDER;

/* ---------------------------------------------------------------------------------------------
 * Incremental current versions (issue 19 target 1; sql/024_rc_be_cache.sql,
 * docs/reconcile.md "Incremental current versions").
 *
 * Which version of a billing_event_id is current at as-of depends only on that id's visible rows
 * (settle.billing_event_winners), and a row of rc_be on its version, the account map (SPEC §1) and,
 * for a DISBURSED line without a reference, its parent's current version (SPEC §3.1). The last
 * run's rc_be is kept in settle.rc_be_cache with the files it saw, the account map and the
 * parents' references it used. When every one of those files is still visible, the account map
 * is the same, the as-of is not earlier and the query is the same, an id without a row in the
 * files new since then, and not a line whose parent's reference changed, has the same current
 * row as in the cache: only those ids are read again (rc_be_new_sql, rc_be_sql's own rows
 * restricted to them) and the rest is copied.
 * Everything else is the full rc_be_sql, which then refreshes the cache. SETTLE_RECONCILE_FULL=1
 * forces the full computation (the equivalence test tests/integration/test_incremental_nights.sh
 * compares both; auditors' reruns go back to an earlier as-of, which is full anyway).
 */
static const char rc_be_new_sql[] =
	"INSERT INTO settle.rc_be_cache"
	RC_BE_ROWS(" AND s.billing_event_id IN (SELECT k.billing_event_id FROM settle.rc_new_key k)");
/* The cache brought up to date is rc_be itself, through a view: copying its rows into a temporary
 * table in ASOF_BE_ORDER (a sort and a write of the whole month, 1.5-3 s of a night on 800k events)
 * cost more than the one reader that needs that order sorting them itself (the charge-group
 * stream, asof_events_sorted), and the other readers scan a shared table that PostgreSQL may split
 * over its workers. The view is temporary (this session's; dropped by the next build, never
 * ON COMMIT: a view cannot be) over rows that only asof.c writes, under the run lock. */
static const char rc_be_cached_sql[] = "CREATE TEMP VIEW rc_be AS SELECT * FROM settle.rc_be_cache";
/* What pg_temp.rc_be is now: a view (the incremental path) or a table (the full one). */
static const char rc_be_kind_sql[] =
	"SELECT coalesce((SELECT c.relkind = 'v' FROM pg_class c WHERE c.oid = to_regclass('pg_temp.rc_be')), false)";

/* The digest of what computes rc_be: a cache written by another binary or query, or before a
 * migration changed any settle function it calls (the version resolution, visible_files,
 * account_ident, ...: every function of the schema, to be sure), is never used. */
static const char rc_be_digest_sql[] =
	"SELECT md5($1 || chr(31) || coalesce((SELECT string_agg(p.oid::regprocedure::text || chr(30) || p.prosrc, chr(31)"
	"                                          ORDER BY p.oid::regprocedure::text COLLATE \"C\")"
	"                                      FROM pg_proc p WHERE p.pronamespace = 'settle'::regnamespace), ''))";

static int rc_be_digest(struct db *db, char out[33], struct err *e)
{
	const char *text[] = { SETTLE_VERSION "\x1f", rc_be_sql, "\x1f", rc_be_new_sql, "\x1f", rc_winner_sql, "\x1f",
			       rc_account_sql, "\x1f", rc_parent_ref_needed_sql };
	size_t len = 1;
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
		len += strlen(text[i]);
	char *all = malloc(len), *w = all;
	if (!all)
		return err_set(e, EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
		size_t n = strlen(text[i]);
		memcpy(w, text[i], n);
		w += n;
	}
	*w = '\0';
	const char *params[] = { all };
	PGresult *res = db_query(db, rc_be_digest_sql, 1, params, PGRES_TUPLES_OK, e);
	free(all);
	if (!res)
		return -1;
	snprintf(out, 33, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* Whether the cache may serve as-of $1 (digest $2): the conditions above, in one query. */
static const char rc_be_cache_usable_sql[] =
	"SELECT EXISTS (SELECT 1 FROM settle.rc_be_cache_state st WHERE st.as_of <= $1::timestamptz AND st.query_digest = $2)"
	"   AND (SELECT count(*) FROM settle.rc_be_cache_state) = 1"
	"   AND NOT EXISTS (SELECT 1 FROM settle.rc_be_cache_file c"
	"                   WHERE c.file_id NOT IN (SELECT v.file_id FROM settle.visible_files($1::timestamptz) v))"
	"   AND NOT EXISTS (SELECT id, account_key FROM settle.rc_account"
	"                   EXCEPT SELECT id, account_key FROM settle.rc_be_cache_account)"
	"   AND NOT EXISTS (SELECT id, account_key FROM settle.rc_be_cache_account"
	"                   EXCEPT SELECT id, account_key FROM settle.rc_account)";

/* The cache brought to as-of $1: the new files' ids dropped and read again (rc_be_new_sql). */
static const char rc_be_new_files_sql[] =
	"CREATE TEMP TABLE rc_new_file ON COMMIT DROP AS"
	" SELECT v.file_id FROM settle.visible_files($1::timestamptz) v"
	" WHERE v.file_id NOT IN (SELECT c.file_id FROM settle.rc_be_cache_file c)";
static const char rc_be_cache_update_sql[] =
	"DELETE FROM settle.rc_new_key;"
	"INSERT INTO settle.rc_new_key SELECT DISTINCT n.billing_event_id FROM settle.billing_event n"
	" WHERE n.file_id IN (SELECT f.file_id FROM pg_temp.rc_new_file f);"
	/* SPEC §3.1: the lines whose parent's current reference is not the one their cached row
	 * borrowed (any stored version of such a line: reading an id again is never wrong) */
	"INSERT INTO settle.rc_new_key SELECT DISTINCT c.billing_event_id FROM settle.billing_event c"
	" WHERE c.action = 'DISBURSED' AND c.transaction_reference_id IS NULL AND c.parent_billing_event_id IN ("
	"   (SELECT p.billing_event_id FROM settle.rc_parent_ref p"
	"    EXCEPT SELECT q.billing_event_id FROM settle.rc_parent_ref p"
	"      JOIN settle.rc_be_cache_parent q USING (billing_event_id, transaction_reference_id))"
	"   UNION (SELECT q.billing_event_id FROM settle.rc_be_cache_parent q"
	"    EXCEPT SELECT p.billing_event_id FROM settle.rc_parent_ref p))"
	" ON CONFLICT DO NOTHING;"
	"ANALYZE settle.rc_new_key;"
	"DELETE FROM settle.rc_be_cache c WHERE c." ASOF_BE_ID " IN (SELECT k.billing_event_id FROM settle.rc_new_key k);"
	"DELETE FROM settle.rc_be_cache_parent; INSERT INTO settle.rc_be_cache_parent SELECT * FROM settle.rc_parent_ref;";
static const char rc_be_cache_update_tail_sql[] =
	"INSERT INTO settle.rc_be_cache_file SELECT f.file_id FROM pg_temp.rc_new_file f;"
	"DROP TABLE pg_temp.rc_new_file; DELETE FROM settle.rc_new_key;";

/* After a full computation: the cache holds this rc_be, unless its columns are not rc_be's
 * (a query changed without the table: the cache is then left empty, every run full). */
static const char rc_be_cache_columns_sql[] =
	"SELECT (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)"
	"        FROM pg_attribute a WHERE a.attrelid = 'pg_temp.rc_be'::regclass AND a.attnum > 0 AND NOT a.attisdropped)"
	"     = (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)"
	"        FROM pg_attribute a WHERE a.attrelid = 'settle.rc_be_cache'::regclass AND a.attnum > 0"
	"          AND NOT a.attisdropped)";
static const char rc_be_cache_clear_sql[] =
	"TRUNCATE settle.rc_be_cache, settle.rc_be_cache_state, settle.rc_be_cache_file, settle.rc_be_cache_account,"
	" settle.rc_be_cache_parent";
static const char rc_be_cache_fill_sql[] =
	"INSERT INTO settle.rc_be_cache SELECT * FROM pg_temp.rc_be;"
	"INSERT INTO settle.rc_be_cache_account SELECT id, account_key FROM settle.rc_account;"
	"INSERT INTO settle.rc_be_cache_parent SELECT * FROM settle.rc_parent_ref;";
static const char rc_be_cache_files_sql[] =
	"INSERT INTO settle.rc_be_cache_file SELECT DISTINCT v.file_id FROM settle.visible_files($1::timestamptz) v";
static const char rc_be_cache_state_sql[] =
	"INSERT INTO settle.rc_be_cache_state VALUES ($1::timestamptz, $2)";

static int asof_full_forced(void)
{
	const char *v = getenv("SETTLE_RECONCILE_FULL");
	return v && *v && strcmp(v, "0") != 0;
}

static int asof_exec_params(struct db *db, const char *sql, int n, const char *const *params, struct err *e)
{
	PGresult *res = db_query(db, sql, n, params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

/* rc_be from the cache brought up to date (*done = 1), or nothing when it may not serve. */
static int rc_be_incremental(struct db *db, const char *as_of, const char *digest, int *done, struct err *e)
{
	*done = 0;
	if (asof_full_forced())
		return 0;
	const char *params[] = { as_of, digest };
	int usable;
	if (db_query_bool(db, rc_be_cache_usable_sql, 2, params, &usable, e) < 0)
		return -1;
	if (!usable)
		return 0;
	double t0 = log_clock();
	if (asof_exec_params(db, rc_be_new_files_sql, 1, params, e) < 0 || db_exec(db, rc_be_cache_update_sql, e) < 0 ||
	    asof_exec_params(db, rc_be_new_sql, 1, params, e) < 0 || db_exec(db, rc_be_cache_update_tail_sql, e) < 0 ||
	    db_exec(db, "DELETE FROM settle.rc_be_cache_state", e) < 0 ||
	    asof_exec_params(db, rc_be_cache_state_sql, 2, params, e) < 0)
		return -1;
	log_phase("reconcile", "-", "current versions: new", t0);
	t0 = log_clock();
	if (db_exec(db, rc_be_cached_sql, e) < 0)
		return -1;
	/* SETTLE_RECONCILE_TIMING: which way rc_be was made (test_incremental_nights.sh reads this) */
	log_phase("reconcile", "-", "current versions: kept", t0);
	*done = 1;
	return 0;
}

/* After rc_be_sql: the cache holds its rows for the next run. */
static int rc_be_cache_refresh(struct db *db, const char *as_of, const char *digest, struct err *e)
{
	double t0 = log_clock();
	if (db_exec(db, rc_be_cache_clear_sql, e) < 0)
		return -1;
	int same = 0;
	/* A forced full computation writes none (it must cost what it did before the cache). */
	if (asof_full_forced())
		return 0;
	if (db_query_bool(db, rc_be_cache_columns_sql, 0, NULL, &same, e) < 0)
		return -1;
	if (!same)
		return 0;
	const char *params[] = { as_of, digest };
	if (db_exec(db, rc_be_cache_fill_sql, e) < 0 || asof_exec_params(db, rc_be_cache_files_sql, 1, params, e) < 0 ||
	    asof_exec_params(db, rc_be_cache_state_sql, 2, params, e) < 0)
		return -1;
	log_phase("reconcile", "-", "current versions: cached", t0);
	return 0;
}

/* Whether rc_be already holds this as-of's events (same transaction, an earlier period). */
static int rc_be_reusable(struct db *db, const char *as_of, int *reuse, struct err *e)
{
	int exists;
	*reuse = 0;
	if (db_query_bool(db, "SELECT to_regclass('pg_temp.rc_state') IS NOT NULL", 0, NULL, &exists, e) < 0)
		return -1;
	if (!exists)
		return 0;
	const char *params[] = { as_of };
	return db_query_bool(db, "SELECT count(*) = 1 FROM pg_temp.rc_state WHERE as_of = $1::timestamptz", 1,
			     params, reuse, e);
}

/* asof.h: rc_be as of as_of_us, built or (*reused) kept from an earlier call. */
int asof_current_events(struct db *db, int64_t as_of_us, int *reused, struct err *e)
{
	int kept;
	if (!reused)
		reused = &kept;
	if (PQtransactionStatus(db_conn(db)) != PQTRANS_INTRANS)
		return err_set(e, EXIT_FAILED, "asof_current_events must run inside the caller's transaction");
	char as_of[40];
	time_format_pg(as_of_us, as_of);
	if (db_batch_settings(db, e) < 0 || rc_be_reusable(db, as_of, reused, e) < 0)
		return -1;
	if (*reused)
		return 0;
	const char *params[] = { as_of };
	int view;
	if (db_query_bool(db, rc_be_kind_sql, 0, NULL, &view, e) < 0 ||
	    db_exec(db, view ? "DROP VIEW pg_temp.rc_be" : "DROP TABLE IF EXISTS pg_temp.rc_be", e) < 0 ||
	    db_exec(db,
		    "DROP TABLE IF EXISTS pg_temp.rc_state;"
		    "CREATE TEMP TABLE rc_state (as_of timestamptz NOT NULL) ON COMMIT DROP",
		    e) < 0)
		return -1;
	/* SETTLE_RECONCILE_TIMING: the parts of reconcile's "current versions" phase (bench/README.md),
	 * still labelled "reconcile": test_incremental_nights.sh and bench_nights.sh read these lines */
	double t0 = log_clock();
	if (db_exec(db, rc_be_prepare_sql, e) < 0)
		return -1;
	log_phase("reconcile", "-", "current versions: keys", t0);
	t0 = log_clock();
	PGresult *res = db_query(db, rc_winner_sql, 1, params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	if (db_exec(db, "ANALYZE settle.rc_winner", e) < 0)
		return -1;
	log_phase("reconcile", "-", "current versions: winners", t0);
	t0 = log_clock();
	res = db_query(db, rc_account_sql, 1, params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	if (db_exec(db, "ANALYZE settle.rc_account", e) < 0)
		return -1;
	int parents;
	if (db_query_bool(db, rc_parent_ref_needed_sql, 0, NULL, &parents, e) < 0)
		return -1;
	if (parents) {
		res = db_query(db, rc_parent_ref_sql, 1, params, PGRES_COMMAND_OK, e);
		if (!res)
			return -1;
		PQclear(res);
	}
	log_phase("reconcile", "-", "current versions: accounts", t0);
	char digest[33];
	int incremental;
	if (rc_be_digest(db, digest, e) < 0 || rc_be_incremental(db, as_of, digest, &incremental, e) < 0)
		return -1;
	if (!incremental) {
		t0 = log_clock();
		res = db_query(db, rc_be_sql, 1, params, PGRES_COMMAND_OK, e);
		if (!res)
			return -1;
		PQclear(res);
		log_phase("reconcile", "-", "current versions: all", t0);
		if (rc_be_cache_refresh(db, as_of, digest, e) < 0)
			return -1;
	}
	res = db_query(db, "INSERT INTO pg_temp.rc_state VALUES ($1::timestamptz)", 1, params, PGRES_COMMAND_OK, e);
	if (!res)
		return -1;
	PQclear(res);
	/* The planner's statistics of what rc_be reads: the cache's own when rc_be is its view. */
	return db_exec(db, incremental ? "ANALYZE settle.rc_be_cache" : "ANALYZE pg_temp.rc_be", e);
}

int asof_events_sorted(struct db *db, int *sorted, struct err *e)
{
	int view;
	if (db_query_bool(db, rc_be_kind_sql, 0, NULL, &view, e) < 0)
		return -1;
	*sorted = !view;
	return 0;
}
