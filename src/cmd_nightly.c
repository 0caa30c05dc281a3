/* cmd_nightly.c — `settle nightly`: ingest the inbox, then reconcile and report what changed
 * (SPEC §6, §7).
 *
 * One as-of instant for the whole run: the database clock when the run starts. Every file is
 * ingested with that instant as its ingest time, so the run sees exactly the files it ingested and
 * those before. Then, in one transaction, every period touched by files not yet reported
 * (settle.periods_touched, sql/004_report_state.sql) plus the as-of's own month is reconciled and
 * its set staged; after the commit the sets are swapped into place and only then the watermark
 * settle.nightly_state moves. Killed anywhere, the next nightly reports whatever was missed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "contain.h"
#include "escape.h"
#include "inbox.h"
#include "ingest.h"
#include "insights.h"
#include "log.h"
#include "msg.h"
#include "report_set.h"
#include "run.h"
#include "settle.h"
#include "signals.h"
#include "timeutil.h"

#define NIGHTLY_PATH_MAX 4096
#define NIGHTLY_TEXT_MAX (4 * NIGHTLY_PATH_MAX + 256) /* a path escaped (escape.h: 4 bytes a byte at most) */

/* What became of a period (SPEC §6.1): its set's name ("" when a closed period was as closed and
 * nothing was written) and, for a closed period, the summary's words. */
struct nightly_period {
	char target[24];
	char note[192];
};

struct nightly_stats {
	size_t files;          /* files in the inbox */
	size_t ingested;       /* newly ingested (appends included) */
	size_t appended;       /* ... of which appends to a file ingested before (SPEC §3) */
	size_t skipped;        /* already ingested: nothing done */
	size_t still_rejected; /* rejected whole on an earlier night, the same bytes again: not loaded */
	size_t feeds_skipped;  /* feeds settle does not read (addressfeed_v1) */
	size_t files_rejected; /* structurally broken, rejected whole */
	size_t unreadable;     /* entries of the inbox that are not readable files (inbox.h) */
	size_t files_unread;   /* files whose open or read failed: set aside, read again next night */
	size_t held;           /* files held back behind an earlier one that could not be read */
	size_t files_failed;   /* could not be ingested (the database or the machine): the run stopped
				* ingesting there */
	int64_t rows;
	int64_t rejected;
};

/* SPEC §3: a file in an SDDS feed folder that is no .csv is not a delivered feed file (the
 * marketplace writes data.csv; a sync tool's download in progress is "data.csv.1a2B3c4D"). */
static int nightly_feed_file_ok(const char *rel)
{
	const struct feed_kind *k;
	const char *feed;
	size_t len;
	if (inbox_feed_of_path(rel, &k, &feed, &len) == INBOX_FEED_NONE)
		return 1;
	size_t n = strlen(rel);
	return n > 4 && strcmp(rel + n - 4, ".csv") == 0;
}

/* SPEC §3: what the walk could not read is named, never silently skipped. One warning line. */
static void nightly_say_list(int warning, const char *one_what, const char *what, const struct inbox_list *l)
{
	char names[1024] = "";
	size_t used = 0, shown = 0;
	for (size_t i = 0; i < l->n; i++) {
		char one[INBOX_PATH_MAX + 160];
		/* A path longer than the line could hold is cut, so the list never reads "...: and 1
		 * more" with nothing named. */
		int cut = strlen(l->v[i].path) > 300;
		snprintf(one, sizeof one, "%s\"%.300s%s\"%s%s%s", i ? ", " : "", l->v[i].path, cut ? "..." : "",
			 l->v[i].why ? " (" : "", l->v[i].why ? l->v[i].why : "", l->v[i].why ? ")" : "");
		if (used + strlen(one) + 1 >= sizeof names - 32)
			break;
		used += (size_t)snprintf(names + used, sizeof names - used, "%s", one);
		shown++;
	}
	if (shown < l->n)
		snprintf(names + used, sizeof names - used, " and %zu more", l->n - shown);
	if (l->n == 1)
		what = one_what;
	if (warning)
		log_warning("%zu %s: %s", l->n, what, names);
	else
		log_info("%zu %s: %s", l->n, what, names);
}

/* ---------------------------------------------------------------------------------------------
 * Set aside and held back (docs/ingest.md "A file that cannot be read")
 *
 * A file settle cannot open or read (EACCES, EIO, gone or rewritten while read) is set aside for
 * the night: named in one warning line with the reason, not recorded in the ledger (so the next
 * night reads it again, whole or as an append), and the other files proceed. But the ledger's
 * order is the contract's "latest ingested" (SPEC §3.1, §6): the offer file's later rows replace
 * earlier ones, a metering or deposit key keeps its first write, and two versions of a billing
 * event (or of an agreement, an offer revision, ...) with the same valid_from and update_date are
 * told apart by ingest order alone. A later file of the same feed ingested tonight and the set
 * aside one tomorrow would invert that order for good, silently. So the later files that may be of
 * the unreadable one's kind are held back too (not recorded; read again next night, in order):
 * - in an SDDS feed folder, its kind is the folder's: only that feed's later files wait, in every
 *   recipient's folder (keys such as agreement_id are the same across recipients);
 * - outside one, its kind is in its header, which could not be read: every later file waits;
 * - a folder the walk could not open holds back the same way what sorts after everything below it.
 * The night ends 4 (done, input set aside), not 5: every file that could be read in order was.
 */
struct nightly_hold {
	char *path;                   /* the entry, relative to the inbox, owned */
	int folder;                   /* a folder: what waits is what sorts after everything below it */
	const struct feed_kind *kind; /* its feed's kind, or NULL: files of any kind wait */
};

struct nightly_aside {
	struct nightly_hold *v;       /* the holds, in the order met */
	size_t n, cap;
	const char *rel;              /* the file being ingested (nightly_hold_asked) */
	const struct nightly_hold *by; /* the hold that held it back */
	struct inbox_list unread;     /* files set aside tonight, why = the reason */
	struct inbox_list held;       /* files held back, why = "<kind>, behind \"<path>\"" */
};

static void nightly_aside_free(struct nightly_aside *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].path);
	free(a->v);
	inbox_list_free(&a->unread);
	inbox_list_free(&a->held);
	memset(a, 0, sizeof *a);
}

/* The kind whose later files the entry rel holds back: its feed folder's (*kind), or NULL for any
 * kind (a plain file's kind is in its header; a folder outside a feed folder may hold any feed).
 * 1 when it holds nothing back: a feed settle does not read (addressfeed_v1, an unsupported or
 * unknown feed folder), of which nothing would load anyway. */
static int nightly_hold_kind(const char *rel, int folder, const struct feed_kind **kind)
{
	char probe[INBOX_PATH_MAX + 3];
	const struct feed_kind *k = NULL;
	const char *feed;
	size_t len;
	/* inbox_feed_of_path reads the folders of a file's path: a folder's own name is one */
	snprintf(probe, sizeof probe, "%s%s", rel, folder ? "/x" : "");
	switch (inbox_feed_of_path(probe, &k, &feed, &len)) {
	case INBOX_FEED_NONE:
		*kind = NULL;
		return 0;
	case INBOX_FEED_KIND:
		*kind = k;
		return 0;
	default:
		return 1;
	}
}

/* Adds the hold of the entry rel (a folder when folder is set), when it holds anything back. */
static int nightly_hold_add(struct nightly_aside *a, const char *rel, int folder, struct err *e)
{
	const struct feed_kind *kind;
	if (nightly_hold_kind(rel, folder, &kind))
		return 0;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		struct nightly_hold *v = realloc(a->v, cap * sizeof *v);
		if (!v)
			return err_set(e, EXIT_FAILED, "out of memory");
		a->v = v;
		a->cap = cap;
	}
	if (!(a->v[a->n].path = strdup(rel)))
		return err_set(e, EXIT_FAILED, "out of memory");
	a->v[a->n].folder = folder;
	a->v[a->n].kind = kind;
	a->n++;
	return 0;
}

/* 1 when rel sorts after the entry of h and, for a folder, after everything below it (SPEC §6
 * byte order: "a-b.csv" comes before "a/x.csv", "a0.csv" after it). */
static int nightly_after(const char *rel, const struct nightly_hold *h)
{
	size_t n = strlen(h->path);
	if (!h->folder)
		return strcmp(rel, h->path) > 0;
	int c = strncmp(rel, h->path, n);
	if (c != 0)
		return c > 0;
	return (unsigned char)rel[n] > '/'; /* rel[n] == '/' cannot be: the folder was not read */
}

/* ingest_options.hold: whether the file a->rel, of kind k, waits behind a hold. */
static int nightly_hold_asked(const struct feed_kind *k, void *arg)
{
	struct nightly_aside *a = arg;
	for (size_t i = 0; i < a->n; i++) {
		const struct nightly_hold *h = &a->v[i];
		if ((h->kind == NULL || h->kind == k) && nightly_after(a->rel, h)) {
			a->by = h;
			return 1;
		}
	}
	return 0;
}

/* The file rel could not be read (e says why): one warning line, set aside, and its hold. */
static int nightly_set_aside(struct nightly_aside *a, const char *rel, const struct err *why, struct err *e)
{
	const struct feed_kind *kind = NULL;
	int none = nightly_hold_kind(rel, 0, &kind);
	size_t nl = strlen(rel);
	const char *reason = why->msg;
	if (strncmp(reason, rel, nl) == 0 && reason[nl] == ':' && reason[nl + 1] == ' ')
		reason += nl + 2;
	log_warning("%s: %s; set aside, not recorded as ingested: read again on the next night%s%s%s", rel, reason,
		    none ? "" : kind ? "; later files of " : "; every later file waits behind it (its kind is in its"
								   " header, which could not be read)",
		    !none && kind ? kind->name : "", !none && kind ? " wait behind it" : "");
	if (inbox_list_add(&a->unread, rel, reason, e) < 0)
		return -1;
	return nightly_hold_add(a, rel, 0, e);
}

/* The folders the walk could not open hold back what comes after them (see above). */
static int nightly_hold_folders(struct nightly_aside *a, const struct inbox_list *problems, struct err *e)
{
	for (size_t i = 0; i < problems->n; i++)
		if (problems->v[i].unreadable && nightly_hold_add(a, problems->v[i].path, 1, e) < 0)
			return -1;
	return 0;
}

/* SPEC §6: the inbox's files in byte order of their relative paths, each keyed in the ledger by
 * that path. Unchanged files are counted, not listed (ingest_options.quiet). */
static int nightly_ingest(struct db *db, const char *inbox, const struct inbox_list *files, int64_t as_of_us,
			  struct nightly_aside *a, struct nightly_stats *s, struct err *e)
{
	for (size_t i = 0; i < files->n; i++) {
		const char *rel = files->v[i].path;
		char path[NIGHTLY_PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", inbox, rel) >= (int)sizeof path)
			return err_set(e, EXIT_FAILED, "path \"%s/%s\" is too long", inbox, rel);
		log_progress("[%zu/%zu] ingesting %s", i + 1, files->n, rel);
		struct ingest_options opt = { .ingested_at_us = as_of_us, .name = rel, .quiet = 1, .msg = &msg_log,
					      .hold = nightly_hold_asked, .hold_arg = a };
		a->rel = rel;
		a->by = NULL;
		struct ingest_result r;
		memset(&r, 0, sizeof r);
		/* issue 15: files already ingested are counted in the summary, not listed one by one */
		log_mute_info(1);
		int irc = ingest_file(db, path, &opt, &r, e);
		log_mute_info(0);
		if (irc < 0) {
			size_t nl = strlen(rel);
			if (strncmp(e->msg, rel, nl) != 0 || e->msg[nl] != ':')
				err_prefix(e, "%s", rel);
			/* SPEC §7 exit codes: the files before this one are committed. While the database
			 * is there, the run stops ingesting (later files keep their order for the next
			 * night: "latest ingested" follows it, SPEC §6), reports what it has and ends
			 * "partly done" (EXIT_PARTIAL) naming this file. */
			if (e->exit_code == EXIT_LOCKED || PQstatus(db_conn(db)) != CONNECTION_OK ||
			    PQtransactionStatus(db_conn(db)) != PQTRANS_IDLE)
				return s->ingested > 0 ? err_prefix(e, "%zu file%s of this run %s committed, %s"
							 " periods not reported yet", s->ingested,
							 s->ingested == 1 ? "" : "s", s->ingested == 1 ? "is" : "are",
							 s->ingested == 1 ? "its" : "their"), -1 : -1;
			log_progress_done();
			if (r.unreadable) { /* the file's own fault: set aside, the others go on */
				struct err why = *e;
				memset(e, 0, sizeof *e);
				if (nightly_set_aside(a, rel, &why, e) < 0)
					return -1;
				s->files_unread++;
				continue;
			}
			log_error("%s; %zu later files not read, left for the next nightly", e->msg, files->n - i - 1);
			s->files_failed++;
			break;
		}
		if (r.skipped) {
			s->feeds_skipped++;
			continue;
		}
		if (r.held) {
			char why[INBOX_PATH_MAX + 64];
			ASSERT(a->by);
			snprintf(why, sizeof why, "%s, behind \"%s\"", r.kind, a->by->path);
			if (inbox_list_add(&a->held, rel, why, e) < 0)
				return -1;
			s->held++;
			continue;
		}
		if (r.already_ingested) { /* counted; a whole-file rejection repeated has been said */
			if (r.still_rejected)
				s->still_rejected++;
			else
				s->skipped++;
			continue;
		}
		s->ingested++;
		s->rows += r.rows_loaded;
		s->rejected += r.rows_rejected;
		if (r.file_rejected) { /* ingest_file said it, "file rejected (...), nothing loaded" */
			s->files_rejected++;
		} else if (r.prefix_bytes > 0) {
			s->appended++;
			log_info("%s: %s, %lld row%s loaded, %lld rejected (appended from line %lld)", rel, r.kind,
				 (long long)r.rows_loaded, r.rows_loaded == 1 ? "" : "s", (long long)r.rows_rejected,
				 (long long)r.line_first);
		} else {
			log_info("%s: %s, %lld row%s loaded, %lld rejected", rel, r.kind, (long long)r.rows_loaded,
				 r.rows_loaded == 1 ? "" : "s", (long long)r.rows_rejected);
		}
		run_failpoint("ingested-one");
	}
	log_progress_done();
	if (a->held.n)
		nightly_say_list(1, "later file waits for the next night behind an earlier one settle could not read"
				 " (the inbox's order is kept)", "later files wait for the next night behind earlier ones settle could"
				 " not read (the inbox's order is kept)", &a->held);
	if (s->feeds_skipped)
		log_info("%zu file%s of addressfeed_v1 skipped: settle does not read that feed (personal data)",
			 s->feeds_skipped, s->feeds_skipped == 1 ? "" : "s");
	return 0;
}

/* settle.inbox_set_aside (sql/032) for `settle status`: this night's entries not read -- the
 * walk's problems, the files set aside and those held back -- replacing the last night's, in one
 * transaction. */
static int nightly_record_aside(struct db *db, int64_t as_of_us, const struct inbox_list *problems,
				const struct nightly_aside *a, struct err *e)
{
	char at[40];
	time_format_pg(as_of_us, at);
	const struct inbox_list *lists[] = { problems, &a->unread, &a->held };
	if (db_begin(db, e) < 0)
		return -1;
	if (db_exec(db, "DELETE FROM settle.inbox_set_aside", e) < 0)
		goto rollback;
	for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
		for (size_t i = 0; i < lists[l]->n; i++) {
			const struct inbox_entry *en = &lists[l]->v[i];
			/* as the warnings show them: a name that is not UTF-8 (a problem of the walk) is
			 * not text the database takes */
			char path[NIGHTLY_TEXT_MAX], why[NIGHTLY_TEXT_MAX];
			escape_text(path, sizeof path, en->path);
			escape_text(why, sizeof why, en->why ? en->why : "");
			const char *params[] = { path, at, lists[l] == &a->held ? "t" : "f", why };
			PGresult *r = db_query(db,
				"INSERT INTO settle.inbox_set_aside (path, night_at, held, why)"
				" VALUES ($1, $2::timestamptz, $3::boolean, $4) ON CONFLICT (path) DO NOTHING",
				4, params, PGRES_COMMAND_OK, e);
			if (!r)
				goto rollback;
			PQclear(r);
		}
	return db_commit(db, e);
rollback:
	db_rollback(db);
	return -1;
}

/* The walk, what it could not read said once, feed folders' stray files moved to the problems. */
static int nightly_walk(const char *inbox, struct inbox *in, struct nightly_stats *s, struct err *e)
{
	if (inbox_walk(inbox, in, e) < 0)
		return -1;
	size_t k = 0;
	int rc = 0;
	for (size_t i = 0; i < in->files.n; i++) {
		struct inbox_entry en = in->files.v[i];
		if (nightly_feed_file_ok(en.path)) {
			in->files.v[k++] = en;
			continue;
		}
		if (rc == 0)
			rc = inbox_list_add(&in->problems, en.path,
					    "not a .csv file in an SDDS feed folder (a download in progress?)", e);
		free(en.path);
	}
	in->files.n = k;
	if (rc < 0)
		return -1;
	inbox_list_sort(&in->problems);
	s->files = in->files.n;
	s->unreadable = in->problems.n;
	if (in->problems.n)
		nightly_say_list(1, "entry of the inbox is not a readable feed file and was not read",
				 "entries of the inbox are not readable feed files and were not read", &in->problems);
	if (in->aliases.n)
		nightly_say_list(0, "symbolic link to a file inside the inbox not read (its target is read under its own "
				 "path)", "symbolic links to files inside the inbox not read (their targets are read under "
				 "their own paths)", &in->aliases);
	if (in->files.n == 0 && in->problems.n == 0)
		log_warning("the inbox \"%s\" holds no file: nothing to ingest (is the bucket synced?)", inbox);
	return 0;
}

/* The watermark, the newest file of this run, and the periods to report (sorted, distinct). */
static int nightly_periods(struct db *db, const struct config *cfg, int64_t as_of_us, int64_t *through,
			   int64_t *retraction_through, int32_t **periods, size_t *n, struct err *e)
{
	char as_of_pg[40], window[16];
	time_format_pg(as_of_us, as_of_pg);
	snprintf(window, sizeof window, "%d", cfg->deposit_window_days);
	const char *params[] = { as_of_pg, window };
	PGresult *res = db_query(db,
		"WITH w AS (SELECT reported_through_file_id AS after FROM settle.nightly_state),"
		" t AS (SELECT coalesce(max(file_id), 0) AS through FROM settle.ingest_file"
		"       WHERE ingested_at <= $1::timestamptz)"
		" SELECT t.through, p.p FROM w CROSS JOIN t"
		" LEFT JOIN LATERAL settle.periods_touched(w.after, t.through, $2::integer) p(p) ON true",
		2, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	int rows = PQntuples(res);
	int32_t *v = malloc(((size_t)rows + 1) * sizeof *v);
	if (!v) {
		PQclear(res);
		return err_set(e, EXIT_FAILED, "out of memory");
	}
	size_t k = 0;
	*through = rows > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	for (int i = 0; i < rows; i++) {
		const char *p = PQgetvalue(res, i, 1);
		if (PQgetisnull(res, i, 1))
			continue;
		/* Years outside 0001..9999 cannot be a period; the row would have been rejected. */
		if (period_parse(p, strlen(p), &v[k]) == 0)
			k++;
	}
	PQclear(res);
	/* The as-of's own month is reported every night once it has data: touched by this run's
	 * files (above) or reported before. Issue 15: never an empty set for a month that has
	 * nothing yet, without a word (docs/reports.md "nightly"). */
	char month[8];
	period_format(period_of_us(as_of_us), month);
	const char *mp[] = { month };
	int seen = 0;
	if (db_query_bool(db, "SELECT EXISTS (SELECT 1 FROM settle.run_period p JOIN settle.run r USING (run_id)"
			      " WHERE p.period = $1 AND r.command IN ('nightly', 'report'))", 1, mp, &seen, e) < 0) {
		free(v);
		return -1;
	}
	if (seen)
		v[k++] = period_of_us(as_of_us);
	/* Containment and retractions (contain.h): failing periods are retried every night. */
	if (contain_periods(db, cfg, &v, &k, retraction_through, e) < 0 ||
	    contain_drop_uncomputable(db, as_of_us, v, &k, &msg_log, e) < 0) {
		free(v);
		return -1;
	}
	for (size_t i = 1; i < k; i++) /* insertion sort: a handful of months */
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			int32_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || v[u - 1] != v[i])
			v[u++] = v[i];
	*periods = v;
	*n = u;
	return 0;
}

/* New exceptions: those of run_id whose (period, code, reference) the previous report or
 * nightly run of the same period did not have; the others are carried over. Previous by as-of
 * (then run id), among the earlier runs at an as-of not after this one's: a `report --as-of` of
 * an old instant run between two nights knew less than the last night, and comparing with it
 * would call the last night's exceptions new again. Adds to *total and *fresh (a nightly may be
 * several runs: the suspects of containment go alone, contain.h). */
static int nightly_new_exceptions(struct db *db, int64_t run_id, int64_t *total, int64_t *fresh, struct err *e)
{
	char r[24];
	snprintf(r, sizeof r, "%lld", (long long)run_id);
	const char *params[] = { r };
	PGresult *res = db_query(db,
		"WITH prev AS (SELECT rp.period, (SELECT q.run_id FROM settle.run_period q JOIN settle.run u USING (run_id)"
		"                                 WHERE q.period = rp.period AND q.run_id < rp.run_id"
		"                                   AND u.command IN ('nightly', 'report')"
		"                                   AND u.as_of <= (SELECT c.as_of FROM settle.run c WHERE c.run_id = rp.run_id)"
		"                                 ORDER BY u.as_of DESC, q.run_id DESC LIMIT 1) AS run_id"
		"              FROM settle.run_period rp WHERE rp.run_id = $1::bigint)"
		" SELECT count(*), count(*) FILTER (WHERE NOT EXISTS ("
		"     SELECT 1 FROM settle.exception o JOIN prev ON o.run_id = prev.run_id AND o.period = prev.period"
		"     WHERE o.period = x.period AND o.code = x.code AND o.reference = x.reference))"
		" FROM settle.exception x WHERE x.run_id = $1::bigint",
		1, params, PGRES_TUPLES_OK, e);
	if (!res)
		return -1;
	*total += strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*fresh += strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

/* What a nightly's report jobs gave, over all of them. */
struct nightly_out {
	struct report_job_result res; /* summed; run_id the last job's */
	int64_t exceptions, fresh;    /* nightly_new_exceptions over every job's run */
};

/* Runs one report job over periods[0..n) of cp, contained per period, and publishes what it
 * staged: every period but the failed ones, so a closed period as closed (a stage with nothing
 * staged, report_set.h) still removes a stale P.restated. cp[idx[i]] receives each period's
 * outcome, ins[idx[i]] its insights, np[idx[i]] what became of it. */
static int nightly_job(struct db *db, const struct config *cfg, int64_t as_of_us, const char *out,
		       struct contain_period *cp, const size_t *idx, size_t n, struct nightly_out *total,
		       struct insights_summary *ins, struct nightly_period *np, struct err *e)
{
	if (n == 0)
		return 0;
	int32_t *periods = calloc(n, sizeof *periods);
	struct report_stage *stages = calloc(n, sizeof *stages);
	struct err *errs = calloc(n, sizeof *errs);
	int rc = -1;
	if (!periods || !stages || !errs) {
		err_set(e, EXIT_FAILED, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		periods[i] = cp[idx[i]].period;
	struct report_job job = { .command = "nightly", .cfg = cfg, .as_of_us = as_of_us, .periods = periods,
				  .periods_n = n, .out_root = out, .close_mode = REPORT_CLOSE_RESPECT,
				  .period_errs = errs, .msg = &msg_log };
	struct report_job_result res;
	if (report_job_run(db, &job, stages, &res, e) < 0)
		goto done;
	run_failpoint("committed");
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (errs[i].msg[0])
			continue; /* failed: contained, nothing staged */
		rc = report_stage_publish(&stages[i], e);
		if (i == 0)
			run_failpoint("published-one");
	}
	for (size_t i = 0; i < n; i++) {
		struct contain_period *c = &cp[idx[i]];
		struct nightly_period *q = &np[idx[i]];
		c->failed = errs[i].msg[0] != '\0';
		c->err = errs[i];
		memset(q, 0, sizeof *q);
		if (!c->failed) {
			ins[idx[i]] = stages[i].insights;
			snprintf(q->target, sizeof q->target, "%s", stages[i].drop_restated ? "" : stages[i].target);
			snprintf(q->note, sizeof q->note, "%s", stages[i].note);
		}
		report_stage_discard(&stages[i]);
	}
	total->res.run_id = res.run_id;
	total->res.total.groups += res.total.groups;
	total->res.total.allocated += res.total.allocated;
	total->res.total.exceptions += res.total.exceptions;
	total->res.total.payouts += res.total.payouts;
	if (rc == 0)
		rc = nightly_new_exceptions(db, res.run_id, &total->exceptions, &total->fresh, e);
done:
	free(periods);
	free(stages);
	free(errs);
	return rc;
}

/* Reconciles and reports the periods, publishes them, then moves the watermarks (contain.h):
 * first every period not suspected of killing the process, in one transaction with a savepoint
 * each; then each suspect alone, in its own. ins[n] receives each period's insights, cp[n] each
 * period's outcome, np[n] its set's name and close note. */
static int nightly_report(struct db *db, const struct config *cfg, int64_t as_of_us, const char *out,
			  const int32_t *periods, size_t n, int64_t through, int64_t retraction_through,
			  struct nightly_out *res, struct insights_summary *ins, struct contain_period *cp,
			  struct nightly_period *np, struct err *e)
{
	memset(res, 0, sizeof *res);
	size_t *idx = calloc(n + 1, sizeof *idx), group_n = 0;
	if (!idx)
		return err_set(e, EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < n; i++)
		cp[i].period = periods[i];
	int rc = contain_prepare(db, cp, n, &msg_log, e);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (!cp[i].alone)
			idx[group_n++] = i;
	int32_t *group = calloc(group_n + 1, sizeof *group);
	if (rc == 0 && !group)
		rc = err_set(e, EXIT_FAILED, "out of memory");
	for (size_t i = 0; i < group_n && rc == 0; i++)
		group[i] = periods[idx[i]];
	int64_t started_us;
	if (rc == 0 && group_n > 0)
		rc = run_db_now_us(db, &started_us, e) < 0 ? -1 : contain_attempt(db, group, group_n, 0, started_us, e);
	if (rc == 0)
		rc = nightly_job(db, cfg, as_of_us, out, cp, idx, group_n, res, ins, np, e);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!cp[i].alone)
			continue;
		rc = run_db_now_us(db, &started_us, e) < 0 ? -1 : contain_attempt(db, &periods[i], 1, 1, started_us, e);
		if (rc == 0)
			rc = nightly_job(db, cfg, as_of_us, out, cp, &i, 1, res, ins, np, e);
	}
	free(group);
	free(idx);
	if (rc == 0)
		rc = contain_finish(db, as_of_us, cp, n, through, retraction_through, e);
	if (rc < 0 && signals_received())
		contain_abandon(db); /* an interruption is no crash */
	return rc;
}

/* The error lines of the periods (one each) for the log: what failed now, what is still failing,
 * what came back. Returns how many failed in this run. */
static size_t contain_log(const struct contain_period *cp, size_t n)
{
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		const struct contain_period *c = &cp[i];
		char p[8];
		period_format(c->period, p);
		/* the job prefixes its errors with the period: not twice */
		const char *msg = c->err.msg;
		if (strncmp(msg, p, 7) == 0 && msg[7] == ':' && msg[8] == ' ')
			msg += 9;
		if (c->failed) {
			failed++;
			if (c->failing)
				log_error("%s: not reported, still failing since %s (%d earlier nightl%s%s): %s", p, c->since,
					  c->failures, c->failures == 1 ? "y" : "ies",
					  c->crashed ? ", the last one died computing it" : "", msg);
			else
				log_error("%s: not reported: %s", p, msg);
		} else if (c->failing) {
			log_warning("%s: reported again; it had failed since %s (%d nightl%s, last: %s)", p, c->since,
				    c->failures, c->failures == 1 ? "y" : "ies", c->reason);
		}
	}
	return failed;
}

/* Whether the night writes a set (a period that did not fail and has a target directory). */
static int nightly_any_written(const struct nightly_period *np, const struct contain_period *cp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!cp[i].failed && np[i].target[0])
			return 1;
	return 0;
}

/* One line per period written with its insights ("2026-10: 3 usage anomalies; median days to
 * payout 34"), one line per closed period that was restated (shown with --quiet too), then the
 * one summary line, which stays the last line (cron mail, tail -n 1); it ends with the periods
 * that failed (contain_log has said why), when any did. A night that writes no period has no new
 * or carried-over exceptions to count; "0 and 0" would read as all clear to a cron reader, so it
 * says the exceptions still open instead (open: run_open_exceptions, as status counts them). */
static void nightly_summary(const struct nightly_stats *s, const char *out, int64_t exceptions, int64_t fresh,
			    int64_t open, const int32_t *periods, const struct insights_summary *ins,
			    const struct nightly_period *np, const struct contain_period *cp, size_t n)
{
	char list[512] = "", failed[512] = "";
	size_t used = 0, written = 0, fused = 0;
	for (size_t i = 0; i < n; i++) {
		char p[8], line[256];
		period_format(periods[i], p);
		if (cp[i].failed) {
			if (fused + 9 < sizeof failed)
				fused += (size_t)snprintf(failed + fused, sizeof failed - fused, " %s", p);
			continue;
		}
		if (np[i].note[0]) {
			if (np[i].target[0])
				log_summary("%s %s", p, np[i].note);
			else
				log_info("%s %s", p, np[i].note);
		}
		if (!np[i].target[0])
			continue;
		insights_summary_line(&ins[i], line, sizeof line);
		log_info("%s: %s", np[i].target, line);
		if (used + strlen(np[i].target) + 2 < sizeof list)
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", written ? " " : "", np[i].target);
		written++;
	}
	/* SPEC §3: a night that read nothing from a non-empty inbox says so. */
	if (s->files + s->unreadable == 1 && s->ingested == 0 && s->skipped == 0)
		log_warning("read nothing from the inbox: its one entry could not be ingested");
	else if (s->files + s->unreadable > 0 && s->ingested == 0 && s->skipped == 0)
		log_warning("read nothing from the inbox: none of its %zu entries could be ingested",
			    s->files + s->unreadable);
	char unreadable[48] = "", notread[48] = "", still[64] = "";
	/* a file rejected whole on an earlier night and never fixed was never "ingested": the
	 * summary says it is still out, not only the warning above it */
	if (s->still_rejected)
		snprintf(still, sizeof still, ", %zu rejected whole on an earlier night", s->still_rejected);
	/* the breakdown adds up to the files: a file rejected whole is not also "ingested", and a feed
	 * settle does not use (addressfeed_v1) is counted too */
	ASSERT(s->files_rejected <= s->ingested);
	size_t loaded = s->ingested - s->files_rejected;
	char notused[48] = "";
	if (s->feeds_skipped)
		snprintf(notused, sizeof notused, ", %zu not used", s->feeds_skipped);
	/* the walk's entries and the files whose read failed alike: not read, set aside */
	if (s->unreadable + s->files_unread)
		snprintf(unreadable, sizeof unreadable, ", %zu not readable", s->unreadable + s->files_unread);
	char held[48] = "";
	if (s->held)
		snprintf(held, sizeof held, ", %zu held back", s->held);
	if (s->files_failed)
		snprintf(notread, sizeof notread, ", %zu failed to ingest", s->files_failed);
	char result[640];
	if (written)
		snprintf(result, sizeof result, "%lld new and %lld carried-over exceptions, periods written: %s",
			 (long long)fresh, (long long)(exceptions - fresh), list);
	else
		snprintf(result, sizeof result, "no period written; %lld exception%s open (settle status)",
			 (long long)open, open == 1 ? "" : "s");
	log_summary("%zu file%s (%zu ingested, %zu already ingested%s, %zu rejected whole%s%s%s%s), %lld row%s"
		    " loaded, %lld rejected, into %s: %s%s%s",
		    s->files, s->files == 1 ? "" : "s", loaded, s->skipped, still, s->files_rejected, notused, unreadable,
		    held, notread, (long long)s->rows, s->rows == 1 ? "" : "s", (long long)s->rejected, out, result,
		    fused ? ", periods failed:" : "", failed);
}

/* --as-of TS replays a night at TS (the demo, docs/reports.md): the files are recorded as
 * ingested at TS, so TS may be neither before an ingest already recorded (the ledger's order is
 * the ingest order, SPEC §6) nor after now. *as_of_us holds now on entry. */
static int nightly_replay_as_of(struct db *db, const char *text, int64_t *as_of_us, struct err *e)
{
	int64_t ts;
	if (time_parse(text, strlen(text), &ts) < 0)
		return err_set(e, EXIT_USAGE, "--as-of \"%s\" is not an ISO 8601 timestamp", text);
	char t[32], pg[40];
	time_format(ts, t);
	if (ts > *as_of_us)
		return err_set(e, EXIT_USAGE, "--as-of %s is in the future", t);
	time_format_pg(ts, pg);
	const char *params[] = { pg };
	int later = 0;
	if (db_query_bool(db, "SELECT EXISTS (SELECT 1 FROM settle.ingest_file WHERE ingested_at > $1::timestamptz)", 1,
			  params, &later, e) < 0)
		return -1;
	if (later)
		return err_set(e, EXIT_USAGE, "--as-of %s is before a file already ingested: a night cannot be replayed"
					      " before the last one", t);
	*as_of_us = ts;
	return 0;
}

/* SPEC §7: settle nightly [--inbox DIR] [--out DIR] [--as-of TS] */
int cmd_nightly(struct settle_ctx *ctx, int argc, char **argv)
{
	const char *inbox = "inbox", *out = "reports", *as_of_s = NULL;
	const struct cli_opt opts[] = {
		{ "inbox", &inbox, NULL }, { "out", &out, NULL }, { "as-of", &as_of_s, NULL }, { NULL, NULL, NULL },
	};
	int first, pr = cli_parse("nightly", argc, argv, opts, 0, 0, &first);
	if (pr != 0)
		return pr > 0 ? EXIT_DONE : EXIT_USAGE;
	struct err e = { 0 };
	struct nightly_stats s = { 0 };
	struct inbox in = { 0 };
	struct nightly_aside aside = { 0 };
	struct nightly_out res;
	struct insights_summary *ins = NULL;
	struct nightly_period *np = NULL;
	int32_t *periods = NULL;
	size_t periods_n = 0;
	struct contain_period *cp = NULL;
	size_t failed = 0;
	int64_t as_of_us = 0, through = 0, retraction_through = 0;
	struct db *db;
	int rc = -1;
	/* The next night's walk would read this night's report files as feed files: each rejected
	 * whole, night after night, and a metering.csv (offer_id, dimension, unit_price) loaded as
	 * usage prices. A configuration error, said before anything is read. */
	if (inbox_holds(inbox, out)) {
		err_set(&e, EXIT_USAGE,
			"the output directory \"%s\" is inside the inbox \"%s\": the next night would read the "
			"reports as feed files; write them beside the inbox",
			out, inbox);
		goto done;
	}
	if (nightly_walk(inbox, &in, &s, &e) < 0 || nightly_hold_folders(&aside, &in.problems, &e) < 0)
		goto done;
	if (run_open_locked(ctx, &db, &e) < 0 || run_db_now_us(db, &as_of_us, &e) < 0)
		goto done;
	if (as_of_s && nightly_replay_as_of(db, as_of_s, &as_of_us, &e) < 0)
		goto done;
	char t[32];
	time_format(as_of_us, t);
	log_progress("as of %s: %zu files in %s", t, in.files.n, inbox);
	if (nightly_ingest(db, inbox, &in.files, as_of_us, &aside, &s, &e) < 0 ||
	    nightly_record_aside(db, as_of_us, &in.problems, &aside, &e) < 0 ||
	    nightly_periods(db, &ctx->config, as_of_us, &through, &retraction_through, &periods, &periods_n, &e) < 0)
		goto done;
	if (!(ins = calloc(periods_n ? periods_n : 1, sizeof *ins)) ||
	    !(np = calloc(periods_n ? periods_n : 1, sizeof *np)) ||
	    !(cp = calloc(periods_n ? periods_n : 1, sizeof *cp))) {
		err_set(&e, EXIT_FAILED, "out of memory");
		goto done;
	}
	if (nightly_report(db, &ctx->config, as_of_us, out, periods, periods_n, through, retraction_through, &res,
			   ins, cp, np, &e) < 0)
		goto done;
	failed = contain_log(cp, periods_n);
	int64_t open = 0;
	if (!nightly_any_written(np, cp, periods_n) && run_open_exceptions(db, NULL, &open, &e) < 0)
		goto done;
	nightly_summary(&s, out, res.exceptions, res.fresh, open, periods, ins, np, cp, periods_n);
	rc = 0;
done:
	inbox_free(&in);
	nightly_aside_free(&aside);
	free(periods);
	free(ins);
	free(np);
	free(cp);
	if (rc < 0) {
		log_progress_done();
		log_error("%s", e.msg);
		/* SPEC §7: 1 means nothing committed; files ingested by this run are. */
		if (s.ingested > 0 && (e.exit_code == 0 || e.exit_code == EXIT_FAILED))
			return EXIT_PARTIAL;
		return e.exit_code ? e.exit_code : EXIT_FAILED;
	}
	/* SPEC §7 exit codes (README "Exit codes"): partly done (5) wins over quarantined (4). A
	 * period that failed (contained, contain.h; named above) or a file that could not be
	 * ingested (the database or the machine failed) means part of the night's work is missing;
	 * quarantined rows or files, inbox entries the walk could not read (SPEC §3: never a clean
	 * night over files it did not read), files whose read failed and those held back behind them
	 * mean the work is done with input set aside. */
	if (failed > 0 || s.files_failed > 0)
		return EXIT_PARTIAL;
	return s.rejected > 0 || s.files_rejected > 0 || s.unreadable > 0 || s.files_unread > 0 || s.held > 0
		       ? EXIT_QUARANTINED
		       : EXIT_DONE;
}
